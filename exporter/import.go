package exporter

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/cache"
)

// Import makes a one-layer image of a root filesystem tarball (gzip, zstd
// or uncompressed), as `docker import` does. The tar is checked as
// CheckLayer checks loaded layers while it streams, gzip-compressed, into
// bs; a tar that fails leaves nothing in bs. comment is the history comment
// ("Imported from -"); created is the image time.
func Import(ctx context.Context, bs BlobStore, r io.Reader, comment string, created time.Time) (ocispec.Descriptor, error) {
	_, br := sniff(r)
	rd, err := decompress(br)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("import: %w", err)
	}
	defer rd.Close()

	var diffID digest.Digest
	d, n, err := putStream(bs, func(w io.Writer) error {
		zw, err := NewCompressor(w, Gzip, 0)
		if err != nil {
			return err
		}
		if diffID, _, err = CheckLayer(ctx, io.TeeReader(rd, zw)); err != nil {
			return err
		}
		return zw.Close()
	})
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("import: %w", err)
	}
	blob := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: d, Size: n}
	created = created.UTC()
	img := ocispec.Image{
		Created:  &created,
		Platform: ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH},
		History:  []ocispec.History{{Created: &created, Comment: comment}},
	}
	return WriteImage(ctx, bs, img, []cache.Layer{{DiffID: diffID, Blob: blob, Created: created}})
}
