package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

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
	for _, spec := range f.cacheTo {
		if _, err := parseCacheSpec("--cache-to", spec); err != nil {
			return nil, err
		}
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

// parseCacheSpec parses a --cache-to/--cache-from value: comma-separated
// key=value pairs, as BuildKit's flags take them.
func parseCacheSpec(flag, spec string) (map[string]string, error) {
	kv := map[string]string{}
	for _, f := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want type=local,KEY=VALUE,…", flag, spec)
		}
		kv[k] = v
	}
	switch kv["type"] {
	case "local":
	case "registry":
		return nil, fmt.Errorf("%s %q: type=registry is not supported yet (use type=local)", flag, spec)
	default:
		return nil, fmt.Errorf("%s %q: type %q is not one of local", flag, spec, kv["type"])
	}
	return kv, nil
}

func importCache(ctx context.Context, store *cache.Store, spec string) error {
	kv, err := parseCacheSpec("--cache-from", spec)
	if err != nil {
		return err
	}
	src := kv["src"]
	if src == "" {
		return fmt.Errorf("--cache-from %q: src=DIR is required", spec)
	}
	if _, err := os.Stat(filepath.Join(src, "index.json")); errors.Is(err, fs.ErrNotExist) {
		return nil // nothing exported there yet: a first CI run
	}
	rep, err := solver.ImportCache(ctx, store, src)
	if err != nil {
		return fmt.Errorf("--cache-from %s: %w", src, err)
	}
	for _, r := range rep.Rejected {
		fmt.Fprintf(os.Stderr, "WARNING: --cache-from %s: ignored %s\n", src, r)
	}
	return nil
}

func exportCache(ctx context.Context, store *cache.Store, spec string, steps []solver.KeyedStep, layers []cache.Layer) error {
	kv, err := parseCacheSpec("--cache-to", spec)
	if err != nil {
		return err
	}
	dest := kv["dest"]
	if dest == "" {
		return fmt.Errorf("--cache-to %q: dest=DIR is required", spec)
	}
	mode := cmp.Or(kv["mode"], "min")
	if mode != "min" && mode != "max" {
		return fmt.Errorf("--cache-to %q: mode %q is not one of min, max", spec, mode)
	}
	if _, err := solver.ExportCache(ctx, store, dest, steps, layers, mode == "min"); err != nil {
		return fmt.Errorf("--cache-to %s: %w", dest, err)
	}
	return nil
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
