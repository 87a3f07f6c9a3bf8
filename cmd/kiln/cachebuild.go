package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/exporter/registry"
	"github.com/kiln-build/kiln/solver"
)

// cacheFlags are kiln build's flags about the cache: explanations, import
// and export, and the garbage collection that follows a build.
type cacheFlags struct {
	explain       bool
	gcKeepStorage string
	cacheTo       []string
	cacheFrom     []string
	// client makes the registry client of type=registry, with progress to
	// the writer given (nil for none).
	client func(io.Writer) (*registry.Client, error)
}

func addCacheFlags(fl *pflag.FlagSet, f *cacheFlags) {
	fl.BoolVar(&f.explain, "explain", false, "say why each step that was not taken from the cache ran")
	fl.StringVar(&f.gcKeepStorage, "gc-keep-storage", "", "after the build, prune the least recently used build cache until the store is under SIZE (default: gc-keep-storage in ROOT/config.toml)")
	fl.StringArrayVar(&f.cacheTo, "cache-to", nil, "export the build cache: type=local,dest=DIR or type=registry,ref=REF, [,mode=min|max][,mounts=true]")
	fl.StringArrayVar(&f.cacheFrom, "cache-from", nil, "import build cache: type=local,src=DIR or type=registry,ref=REF, [,mounts=true]")
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
		if err := f.importCache(ctx, store, spec); err != nil {
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
		if err := cb.flags.exportCache(ctx, cb.store, spec, cb.explainer.Steps(), layers); err != nil {
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
			return nil, fmt.Errorf("%s %q: want type=local|registry,KEY=VALUE,…", flag, spec)
		}
		kv[k] = v
	}
	switch kv["type"] {
	case "local", "registry":
	default:
		return nil, fmt.Errorf("%s %q: type %q is not one of local, registry", flag, spec, kv["type"])
	}
	switch kv["mounts"] {
	case "", "true", "false":
	default:
		return nil, fmt.Errorf("%s %q: mounts=%q is not true or false", flag, spec, kv["mounts"])
	}
	return kv, nil
}

func (f *cacheFlags) importCache(ctx context.Context, store *cache.Store, spec string) error {
	kv, err := parseCacheSpec("--cache-from", spec)
	if err != nil {
		return err
	}
	if kv["type"] == "registry" {
		return f.importRegistryCache(ctx, store, spec, kv)
	}
	src := kv["src"]
	if src == "" {
		return fmt.Errorf("--cache-from %q: src=DIR is required", spec)
	}
	if _, err := os.Stat(filepath.Join(src, "index.json")); errors.Is(err, fs.ErrNotExist) {
		return nil // nothing exported there yet: a first CI run
	}
	return importLayout(ctx, store, src, src, kv["mounts"] == "true")
}

// importLayout imports the cache layout dir, from name (the flag's
// source), warning about the records it refuses.
func importLayout(ctx context.Context, store *cache.Store, name, dir string, mounts bool) error {
	rep, err := solver.ImportCache(ctx, store, dir, mounts)
	if err != nil {
		return fmt.Errorf("--cache-from %s: %w", name, err)
	}
	for _, r := range rep.Rejected {
		fmt.Fprintf(os.Stderr, "WARNING: --cache-from %s: ignored %s\n", name, r)
	}
	return nil
}

func (f *cacheFlags) exportCache(ctx context.Context, store *cache.Store, spec string, steps []solver.KeyedStep, layers []cache.Layer) error {
	kv, err := parseCacheSpec("--cache-to", spec)
	if err != nil {
		return err
	}
	mode := cmp.Or(kv["mode"], "min")
	if mode != "min" && mode != "max" {
		return fmt.Errorf("--cache-to %q: mode %q is not one of min, max", spec, mode)
	}
	opt := solver.ExportOptions{Min: mode == "min", Mounts: kv["mounts"] == "true"}
	if kv["type"] == "registry" {
		return f.exportRegistryCache(ctx, store, spec, kv, steps, layers, opt)
	}
	dest := kv["dest"]
	if dest == "" {
		return fmt.Errorf("--cache-to %q: dest=DIR is required", spec)
	}
	if _, err := solver.ExportCache(ctx, store, dest, steps, layers, opt); err != nil {
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
