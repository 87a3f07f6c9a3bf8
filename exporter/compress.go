package exporter

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Compression is how layer blobs are compressed in an output.
type Compression string

// The compressions an output may ask for. The store itself keeps gzip.
const (
	Gzip         Compression = "gzip"
	Zstd         Compression = "zstd"
	Uncompressed Compression = "uncompressed"
)

// ParseCompression checks a compression name; "" means the store's (gzip).
func ParseCompression(s string) (Compression, error) {
	switch c := Compression(strings.ToLower(s)); c {
	case "", Gzip, Zstd, Uncompressed:
		return c, nil
	}
	return "", fmt.Errorf("compression %q: %w", s, ErrUnknownCompression)
}

// MediaType is the OCI layer media type of the compression.
func (c Compression) MediaType() string {
	switch c {
	case Zstd:
		return ocispec.MediaTypeImageLayerZstd
	case Uncompressed:
		return ocispec.MediaTypeImageLayer
	}
	return ocispec.MediaTypeImageLayerGzip
}

// compressionOf returns the compression a layer media type names, and
// false for a media type that is not a layer kiln knows.
func compressionOf(mediaType string) (Compression, bool) {
	switch mediaType {
	case ocispec.MediaTypeImageLayerGzip, mediaTypeDockerLayer, ocispec.MediaTypeImageLayerNonDistributableGzip: //nolint:staticcheck // still found in the wild
		return Gzip, true
	case ocispec.MediaTypeImageLayerZstd:
		return Zstd, true
	case ocispec.MediaTypeImageLayer, ocispec.MediaTypeImageLayerNonDistributable: //nolint:staticcheck // still found in the wild
		return Uncompressed, true
	}
	return "", false
}

// mediaTypeDockerLayer is Docker's gzip layer media type.
const mediaTypeDockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip"

// NewCompressor returns a writer compressing into w with c at level (0 for
// the compression's default). Close flushes it; it does not close w.
//
// gzip is pgzip with a fixed block size, so that the output depends on the
// input and level alone (see gzipBlockSize), with an empty header (no name,
// mtime 0): equal tars give equal blobs on every machine.
func NewCompressor(w io.Writer, c Compression, level int) (io.WriteCloser, error) {
	switch c {
	case "", Gzip:
		if level == 0 {
			level = pgzip.DefaultCompression
		}
		gz, err := pgzip.NewWriterLevel(w, level)
		if err != nil {
			return nil, fmt.Errorf("gzip level %d: %w", level, err)
		}
		if err := gz.SetConcurrency(gzipBlockSize, runtime.GOMAXPROCS(0)); err != nil {
			return nil, err
		}
		gz.ModTime = time.Unix(0, 0)
		gz.Name = ""
		return gz, nil
	case Zstd:
		lvl := zstd.SpeedDefault
		if level != 0 {
			lvl = zstd.EncoderLevelFromZstd(level)
		}
		// Single-threaded framing is not needed for determinism: klauspost's
		// encoder output does not depend on concurrency.
		zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(lvl))
		if err != nil {
			return nil, fmt.Errorf("zstd level %d: %w", level, err)
		}
		return zw, nil
	case Uncompressed:
		return nopWriteCloser{w}, nil
	}
	return nil, fmt.Errorf("compression %q: %w", c, ErrUnknownCompression)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
