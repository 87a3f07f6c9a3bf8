package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/exporter/registry"
	"github.com/kiln-build/kiln/solver"
)

// The build cache through a registry (--cache-to/--cache-from
// type=registry,ref=REF): the same OCI layout as type=local, made in a temp
// dir of the store and pushed as an image manifest whose config is the
// cache manifest (solver.CacheArtifact), or pulled into one and imported
// the way a local layout is, with the same verification.

func (f *cacheFlags) registryClient() (*registry.Client, error) {
	if f.client == nil {
		return registry.New(registry.Options{})
	}
	return f.client(nil)
}

func (f *cacheFlags) exportRegistryCache(ctx context.Context, store *cache.Store, spec string, kv map[string]string, steps []solver.KeyedStep, layers []cache.Layer, opt solver.ExportOptions) error {
	ref := kv["ref"]
	if ref == "" {
		return fmt.Errorf("--cache-to %q: ref=REF is required", spec)
	}
	rc, err := f.registryClient()
	if err != nil {
		return fmt.Errorf("--cache-to %s: %w", ref, err)
	}
	tmp, err := store.TempDir("cache-to-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if _, err := solver.ExportCache(ctx, store, tmp, steps, layers, opt); err != nil {
		return fmt.Errorf("--cache-to %s: %w", ref, err)
	}
	desc, err := solver.CacheArtifact(tmp)
	if err != nil {
		return fmt.Errorf("--cache-to %s: %w", ref, err)
	}
	if err := rc.PushLayout(ctx, tmp, desc, ref); err != nil {
		return fmt.Errorf("--cache-to %s: %w", ref, err)
	}
	return nil
}

func (f *cacheFlags) importRegistryCache(ctx context.Context, store *cache.Store, spec string, kv map[string]string) error {
	ref := kv["ref"]
	if ref == "" {
		return fmt.Errorf("--cache-from %q: ref=REF is required", spec)
	}
	rc, err := f.registryClient()
	if err != nil {
		return fmt.Errorf("--cache-from %s: %w", ref, err)
	}
	tmp, err := store.TempDir("cache-from-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	desc, err := rc.PullLayout(ctx, ref, tmp)
	if errors.Is(err, registry.ErrNotFound) {
		// Nothing exported there yet, a first CI run: build without it, as
		// BuildKit does, but say so.
		fmt.Fprintf(os.Stderr, "WARNING: --cache-from %s: not found in the registry\n", ref)
		return nil
	}
	if err != nil {
		return fmt.Errorf("--cache-from %s: %w", ref, err)
	}
	if err := solver.WriteCacheIndex(tmp, desc); err != nil {
		return fmt.Errorf("--cache-from %s: %w", ref, err)
	}
	return importLayout(ctx, store, ref, tmp, kv["mounts"] == "true")
}
