package bench

import (
	"compress/gzip"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	digest "github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/exporter"
)

// Layer export throughput: a layer of exportSize bytes of semi-compressible
// data (words from a small vocabulary mixed with runs of random bytes)
// is tarred and compressed, and MB/s reported through b.SetBytes.
//
// KILN_BENCH_LAYER_MB sets the size (default 1024, the 1 GiB);
// the data is generated once per run into a temp dir.
//
// BenchmarkExportLayer drives exporter.WriteLayer end to end (walk, tar,
// compress, digest) into a store that hashes and drops the blob, for each
// compression; BenchmarkCompress compares the
// compressors alone over the same tar stream, gzip at one level through
// pgzip (what kiln uses) and compress/gzip, and zstd.

var (
	layerOnce sync.Once
	layerDir  string // directory holding the layer's files
	layerTar  string // the same files as one uncompressed tar
	layerErr  error
	layerSize int64
)

func exportSize() int64 {
	mb := int64(1024)
	if v, err := strconv.ParseInt(os.Getenv("KILN_BENCH_LAYER_MB"), 10, 64); err == nil && v > 0 {
		mb = v
	}
	return mb << 20
}

// setupLayer writes 64 MiB files of semi-compressible data.
func setupLayer(b *testing.B) {
	b.Helper()
	layerOnce.Do(func() {
		base, err := os.MkdirTemp("", "kiln-bench-export-")
		if err != nil {
			layerErr = err
			return
		}
		benchTemps = append(benchTemps, base)
		layerDir = filepath.Join(base, "layer")
		if err := os.Mkdir(layerDir, 0o755); err != nil {
			layerErr = err
			return
		}
		rng := rand.New(rand.NewPCG(1, 2))
		words := []string{"kiln ", "layer ", "overlay ", "digest ", "manifest ", "\n", "sha256 ", "build ", "cache "}
		const fileSize = 64 << 20
		buf := make([]byte, 0, fileSize)
		total := exportSize()
		for i := 0; int64(i)*fileSize < total; i++ {
			buf = buf[:0]
			n := min(fileSize, total-int64(i)*fileSize)
			for int64(len(buf)) < n {
				if rng.IntN(3) == 0 {
					for range 8 {
						buf = append(buf, byte(rng.Uint32()))
					}
				} else {
					buf = append(buf, words[rng.IntN(len(words))]...)
				}
			}
			buf = buf[:n]
			if err := os.WriteFile(filepath.Join(layerDir, "f"+strconv.Itoa(i)), buf, 0o644); err != nil {
				layerErr = err
				return
			}
			layerSize += n
		}
		// The same tree as a tar, for the compressor-only benchmarks.
		layerTar = filepath.Join(base, "layer.tar")
		f, err := os.Create(layerTar)
		if err != nil {
			layerErr = err
			return
		}
		defer f.Close()
		_, layerErr = exporter.WriteLayer(context.Background(), tarStore{f}, layerDir, exporter.WithCompression(exporter.Uncompressed, 0))
	})
	if layerErr != nil {
		b.Fatalf("generate layer: %v", layerErr)
	}
}

var benchTemps []string

// discardStore is a BlobStore that hashes and drops what it is given.
type discardStore struct{}

func (discardStore) PutBlob(r io.Reader) (digest.Digest, int64, error) {
	d := digest.SHA256.Digester()
	n, err := io.Copy(d.Hash(), r)
	return d.Digest(), n, err
}
func (discardStore) ReadBlob(digest.Digest) ([]byte, error)        { return nil, os.ErrNotExist }
func (discardStore) OpenBlob(digest.Digest) (io.ReadCloser, error) { return nil, os.ErrNotExist }

// tarStore writes the one blob it is given to a file.
type tarStore struct{ w io.Writer }

func (s tarStore) PutBlob(r io.Reader) (digest.Digest, int64, error) {
	n, err := io.Copy(s.w, r)
	return "", n, err
}
func (tarStore) ReadBlob(digest.Digest) ([]byte, error)        { return nil, os.ErrNotExist }
func (tarStore) OpenBlob(digest.Digest) (io.ReadCloser, error) { return nil, os.ErrNotExist }

func BenchmarkExportLayer(b *testing.B) {
	setupLayer(b)
	for _, c := range []struct {
		name  string
		comp  exporter.Compression
		level int
	}{
		{"gzip-pgzip-6", exporter.Gzip, 6},
		{"zstd-default", exporter.Zstd, 0},
		{"uncompressed", exporter.Uncompressed, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(layerSize)
			for b.Loop() {
				if _, err := exporter.WriteLayer(context.Background(), discardStore{}, layerDir, exporter.WithCompression(c.comp, c.level)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCompress(b *testing.B) {
	setupLayer(b)
	const level = 6 // gzip's default, what kiln's store uses
	for _, c := range []struct {
		name string
		new  func(io.Writer) (io.WriteCloser, error)
	}{
		{"gzip-pgzip-6", func(w io.Writer) (io.WriteCloser, error) { return exporter.NewCompressor(w, exporter.Gzip, level) }},
		{"gzip-stdlib-6", func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriterLevel(w, level) }},
		{"zstd-default", func(w io.Writer) (io.WriteCloser, error) { return exporter.NewCompressor(w, exporter.Zstd, 0) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(layerSize)
			var out int64
			for b.Loop() {
				f, err := os.Open(layerTar)
				if err != nil {
					b.Fatal(err)
				}
				cw := &counter{}
				zw, err := c.new(cw)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(zw, f); err != nil {
					b.Fatal(err)
				}
				if err := zw.Close(); err != nil {
					b.Fatal(err)
				}
				f.Close()
				out = cw.n
			}
			b.ReportMetric(float64(layerSize)/float64(out), "ratio")
		})
	}
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
