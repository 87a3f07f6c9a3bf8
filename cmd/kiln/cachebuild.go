package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/solver"
)

// cacheFlags are kiln build's flags about the cache: explanations, import
// and export, and the garbage collection that follows a build.
type cacheFlags struct {
	explain       bool
	gcKeepStorage string
	cacheTo       []string
	cacheFrom     []string
}

func addCacheFlags(fl *pflag.FlagSet, f *cacheFlags) {
	fl.BoolVar(&f.explain, "explain", false, "say why each step that was not taken from the cache ran")
	fl.StringVar(&f.gcKeepStorage, "gc-keep-storage", "", "after the build, prune the least recently used build cache until the store is under SIZE (default: gc-keep-storage in ROOT/config.toml)")
	fl.StringArrayVar(&f.cacheTo, "cache-to", nil, "export the build cache: type=local,dest=DIR[,mode=min|max]")
	fl.StringArrayVar(&f.cacheFrom, "cache-from", nil, "import build cache: type=local,src=DIR")
}

// cacheBuild is the cache side of one kiln build.
type cacheBuild struct {
	store     *cache.Store
	flags     *cacheFlags
	historyID string
	explainer *solver.Explainer
}

// startCacheBuild loads the history of the last build of the same context,
// Dockerfile and target, and imports --cache-from.
func startCacheBuild(ctx context.Context, store *cache.Store, f *cacheFlags, contextDir, file, target string) (*cacheBuild, error) {
	// The Dockerfile is part of the build's identity by where it is, not
	// what it holds: an edited Dockerfile is the same build, explained.
	switch file {
	case "":
		file = filepath.Join(contextDir, "Dockerfile")
	case "-":
	default:
		abs, err := filepath.Abs(file)
		if err != nil {
			return nil, err
		}
		file = abs
	}
	cb := &cacheBuild{store: store, flags: f, historyID: cache.HistoryID(contextDir, file, target)}
	prev, err := store.BuildHistory(cb.historyID)
	if err != nil {
		return nil, err
	}
	cb.explainer = solver.NewExplainer(prev)
	for _, spec := range f.cacheFrom {
		if err := importCache(ctx, store, spec); err != nil {
			return nil, err
		}
	}
	return cb, nil
}

// finish saves the history, exports --cache-to and runs the automatic
// garbage collection.
func (cb *cacheBuild) finish(ctx context.Context, prog *progress, layers []cache.Layer) error {
	if err := cb.store.PutBuildHistory(cb.historyID, cb.explainer.History()); err != nil {
		return err
	}
	if cb.flags.explain {
		prog.explainSummary(os.Stderr)
	}
	for _, spec := range cb.flags.cacheTo {
		if err := exportCache(ctx, cb.store, spec, cb.explainer.Steps(), layers); err != nil {
			return err
		}
	}
	return autoGC(cb.store, cb.flags.gcKeepStorage)
}

func importCache(ctx context.Context, store *cache.Store, spec string) error {
	return fmt.Errorf("--cache-from %s: not implemented yet", spec)
}

func exportCache(ctx context.Context, store *cache.Store, spec string, steps []solver.KeyedStep, layers []cache.Layer) error {
	return fmt.Errorf("--cache-to %s: not implemented yet", spec)
}

// autoGC keeps the store under --gc-keep-storage, or gc-keep-storage from
// ROOT/config.toml. It only runs when no other Store is open: it must not
// make a build wait for another, and the next build will try again.
func autoGC(store *cache.Store, keep string) error {
	var limit int64
	if keep != "" {
		n, err := cache.ParseSize(keep)
		if err != nil {
			return fmt.Errorf("--gc-keep-storage: %w", err)
		}
		limit = n
	} else {
		cfg, err := store.LoadConfig()
		if err != nil {
			return err
		}
		limit = cfg.GCKeepStorage
	}
	if limit <= 0 {
		return nil
	}
	if _, _, err := store.TryPrune(cache.PruneOptions{KeepStorage: limit}); err != nil {
		return fmt.Errorf("garbage collection: %w", err)
	}
	return nil
}
