package solver

import (
	"context"
	"fmt"
	"os"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/exporter"
)

// Unpack returns the layers of the image with the given manifest, extracting
// into the store any it does not hold yet, and the image's config.
func Unpack(ctx context.Context, store Store, manifest digest.Digest) ([]cache.Layer, ocispec.Image, error) {
	m, img, err := exporter.ReadImage(ctx, store, manifest)
	if err != nil {
		return nil, ocispec.Image{}, err
	}
	if len(m.Layers) != len(img.RootFS.DiffIDs) {
		return nil, ocispec.Image{}, fmt.Errorf("image %s: %d layers but %d diff IDs", manifest, len(m.Layers), len(img.RootFS.DiffIDs))
	}
	layers := make([]cache.Layer, 0, len(m.Layers))
	var chain digest.Digest
	for i, desc := range m.Layers {
		chain = cache.ChainID(chain, img.RootFS.DiffIDs[i])
		l, ok, err := store.Layer(chain)
		if err != nil {
			return nil, ocispec.Image{}, err
		}
		if !ok {
			if l, err = extract(ctx, store, desc, img.RootFS.DiffIDs[i], chain); err != nil {
				return nil, ocispec.Image{}, err
			}
		}
		layers = append(layers, l)
	}
	return layers, img, nil
}

func extract(ctx context.Context, store Store, desc ocispec.Descriptor, diffID, chain digest.Digest) (cache.Layer, error) {
	dir, err := store.TempDir("extract")
	if err != nil {
		return cache.Layer{}, err
	}
	defer os.RemoveAll(dir)
	rc, err := store.OpenBlob(desc.Digest)
	if err != nil {
		return cache.Layer{}, fmt.Errorf("layer %s: %w", desc.Digest, err)
	}
	defer rc.Close()
	diff := dir + "/diff"
	if err := exporter.ExtractLayer(ctx, rc, diff); err != nil {
		return cache.Layer{}, fmt.Errorf("extract layer %s: %w", desc.Digest, err)
	}
	return store.AddLayer(diff, cache.Layer{ChainID: chain, DiffID: diffID, Blob: desc})
}
