package exporter

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

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

	pr, pw := io.Pipe()
	type put struct {
		blob ocispec.Descriptor
		err  error
	}
	done := make(chan put, 1)
	go func() {
		d, n, err := bs.PutBlob(pr)
		pr.CloseWithError(io.ErrClosedPipe)
		done <- put{ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: d, Size: n}, err}
	}()
	zw, err := NewCompressor(pw, Gzip, 0)
	if err != nil {
		pw.CloseWithError(err)
		<-done
		return ocispec.Descriptor{}, fmt.Errorf("import: %w", err)
	}
	diffID, _, err := CheckLayer(ctx, io.TeeReader(rd, zw))
	if err == nil {
		err = zw.Close()
	}
	pw.CloseWithError(err)
	p := <-done
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("import: %w", err)
	}
	if p.err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("import: %w", p.err)
	}
	created = created.UTC()
	img := ocispec.Image{
		Created:  &created,
		Platform: ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH},
		History:  []ocispec.History{{Created: &created, Comment: comment}},
	}
	return WriteImage(ctx, bs, img, []cache.Layer{{DiffID: diffID, Blob: p.blob, Created: created}})
}
