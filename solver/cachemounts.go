package solver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/exporter"
)

// Cache mounts in an exported cache (mounts=true), and the cache as a
// registry artifact.
//
// Each RUN --mount=type=cache directory of the store goes as one layer tar
// beside the record layers, named in the cache manifest by the mount's
// store name (the SHA-256 of its id, so the id itself never becomes a path
// on the importing machine either). An import restores a mount only where
// the store has none or an empty one and nobody holds it: a package
// manager cache already warm on this machine wins over the shared one.
// Mount contents are never part of a cache key, so they cannot make a step
// hit the cache that would otherwise run.

// ErrNoCacheMounts reports a store that cannot carry cache mounts.
var ErrNoCacheMounts = errors.New("store has no cache mounts")

// MountStore is the optional part of a Store that exports and restores
// cache mounts (*cache.Store).
type MountStore interface {
	CacheMountNames() ([]string, error)
	ReadCacheMount(ctx context.Context, name string, fn func(dir string) error) error
	RestoreCacheMount(ctx context.Context, name string, fill func(dir string) error) (bool, error)
}

var _ MountStore = (*cache.Store)(nil)

type mountEntry struct {
	Name string             `json:"name"` // mounts/<name> in the store
	Blob ocispec.Descriptor `json:"blob"`
}

func exportMounts(ctx context.Context, store Store, dir string) ([]mountEntry, error) {
	ms, ok := store.(MountStore)
	if !ok {
		return nil, fmt.Errorf("export cache: %w", ErrNoCacheMounts)
	}
	names, err := ms.CacheMountNames()
	if err != nil {
		return nil, fmt.Errorf("export cache: %w", err)
	}
	var out []mountEntry
	for _, name := range names {
		var lb exporter.LayerBlob
		err := ms.ReadCacheMount(ctx, name, func(d string) error {
			var err error
			lb, err = exporter.WriteLayer(ctx, store, d)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("export cache: %w", err)
		}
		if lb.Empty {
			continue
		}
		if err := exportBlob(ctx, store, dir, lb.Blob.Digest); err != nil {
			return nil, err
		}
		out = append(out, mountEntry{Name: name, Blob: lb.Blob})
	}
	return out, nil
}

func importMounts(ctx context.Context, store Store, dir string, mounts []mountEntry) (int, error) {
	ms, ok := store.(MountStore)
	if !ok {
		return 0, fmt.Errorf("import cache: %w", ErrNoCacheMounts)
	}
	n := 0
	for _, m := range mounts {
		if err := m.Blob.Digest.Validate(); err != nil {
			return n, fmt.Errorf("import cache: mount %s: %w", m.Name, err)
		}
		p := filepath.Join(dir, "blobs", m.Blob.Digest.Algorithm().String(), m.Blob.Digest.Encoded())
		// The blob is checked before any of it is extracted.
		if err := verifyFile(p, m.Blob.Digest); err != nil {
			return n, fmt.Errorf("import cache: mount %s: %w", m.Name, err)
		}
		done, err := ms.RestoreCacheMount(ctx, m.Name, func(d string) error {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			return exporter.ExtractLayer(ctx, f, d)
		})
		if err != nil {
			return n, fmt.Errorf("import cache: %w", err)
		}
		if done {
			n++
		}
	}
	return n, nil
}

func verifyFile(p string, d digest.Digest) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	v := d.Verifier()
	if _, err := io.Copy(v, f); err != nil {
		return err
	}
	if !v.Verified() {
		return fmt.Errorf("blob %s: %w", d, cache.ErrDigestMismatch)
	}
	return nil
}

// cacheManifestDesc returns the cache manifest d names: d itself, or the
// config of d where d is the image manifest of a cache artifact.
func cacheManifestDesc(dir string, d ocispec.Descriptor) (ocispec.Descriptor, error) {
	if d.MediaType != ocispec.MediaTypeImageManifest {
		return d, nil
	}
	b, err := readVerified(dir, d.Digest)
	if err != nil {
		return d, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return d, fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	if m.Config.MediaType != MediaTypeCacheManifest {
		return d, nil
	}
	return m.Config, nil
}

// CacheArtifact writes, into the cache layout dir that ExportCache made, an
// OCI image manifest whose config is the cache manifest and whose layers
// are every blob it uses, as BuildKit lays out its registry cache: any
// registry stores it and keeps its blobs alive. It returns the manifest's
// descriptor, which ImportCache also takes in index.json.
func CacheArtifact(dir string) (ocispec.Descriptor, error) {
	var idx ocispec.Index
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("cache artifact: %w", err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("cache artifact: index.json: %w", err)
	}
	var cfg ocispec.Descriptor
	for _, d := range idx.Manifests {
		if d.MediaType == MediaTypeCacheManifest {
			cfg = d
		}
	}
	if cfg.Digest == "" {
		return ocispec.Descriptor{}, fmt.Errorf("cache artifact: no cache manifest in %s", dir)
	}
	mb, err := readVerified(dir, cfg.Digest)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("cache artifact: %w", err)
	}
	var cm cacheManifest
	if err := json.Unmarshal(mb, &cm); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("cache artifact: %w", err)
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: MediaTypeCacheManifest, Digest: cfg.Digest, Size: cfg.Size},
		Layers:    []ocispec.Descriptor{},
	}
	seen := map[digest.Digest]bool{}
	add := func(d ocispec.Descriptor) {
		if !seen[d.Digest] {
			seen[d.Digest] = true
			m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size})
		}
	}
	for _, e := range cm.Records {
		for _, l := range e.Layers {
			add(l.Blob)
		}
	}
	for _, e := range cm.Mounts {
		add(e.Blob)
	}
	out, err := json.Marshal(m)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("cache artifact: %w", err)
	}
	d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(out), Size: int64(len(out))}
	if err := writeFileAtomic(filepath.Join(dir, "blobs", "sha256", d.Digest.Encoded()), out); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("cache artifact: %w", err)
	}
	return d, nil
}

// WriteCacheIndex makes d, a cache artifact's manifest pulled into the
// layout dir, the layout's index.json, for ImportCache.
func WriteCacheIndex(dir string, d ocispec.Descriptor) error {
	idx := ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}},
	}
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "index.json"), b)
}
