package exporter

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/internal/tartest"
)

// putLayer stores a gzip layer tar and returns it as a cache.Layer.
func putTestLayer(t *testing.T, bs BlobStore, tarBytes []byte) cache.Layer {
	t.Helper()
	d, _, err := CheckLayer(context.Background(), bytes.NewReader(tarBytes))
	if err != nil {
		t.Fatal(err)
	}
	gz := tartest.Gzip(t, tarBytes)
	bd, n, err := bs.PutBlob(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	return cache.Layer{DiffID: d, Blob: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: bd, Size: n}, Created: time.Unix(1, 0)}
}

// Archives written from one store load into another with the same image
// ID, whatever the format and compression.
func TestArchiveRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := newMemStore()
	l1 := putTestLayer(t, src, tartest.Build(t, tartest.Dir("etc/"), tartest.File("etc/a", "a"), tartest.File("etc/gone", "x")))
	l2 := putTestLayer(t, src, tartest.Build(t, tartest.Dir("etc/"), tartest.File("etc/.wh.gone", ""), tartest.File("etc/b", "b")))
	desc, err := WriteImage(ctx, src, ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}}, []cache.Layer{l1, l2})
	if err != nil {
		t.Fatal(err)
	}
	m, _, _ := ReadImage(ctx, src, desc.Digest)
	imgs := []NamedImage{{Manifest: desc.Digest, Names: []string{"example.com/app:v1"}}}

	for _, c := range []struct {
		name   string
		docker bool
		comp   Compression
		wantMT string
	}{
		{"oci", false, "", ocispec.MediaTypeImageLayerGzip},
		{"oci-zstd", false, Zstd, ocispec.MediaTypeImageLayerZstd},
		{"oci-uncompressed", false, Uncompressed, ocispec.MediaTypeImageLayer},
		{"docker", true, "", ocispec.MediaTypeImageLayer},
		{"docker-gzip", true, Gzip, ocispec.MediaTypeImageLayerGzip},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			opt := ArchiveOptions{Compression: c.comp, TempDir: t.TempDir()}
			if c.docker {
				err = WriteDockerArchive(ctx, src, &buf, imgs, opt)
			} else {
				err = WriteOCI(ctx, src, &buf, "", imgs, opt)
			}
			if err != nil {
				t.Fatal(err)
			}
			dst := newMemStore()
			loaded, err := LoadArchive(ctx, dst, bytes.NewReader(buf.Bytes()), t.TempDir())
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if len(loaded) != 1 || len(loaded[0].Names) != 1 || loaded[0].Names[0] != "example.com/app:v1" {
				t.Fatalf("load: got %+v, want one image named example.com/app:v1", loaded)
			}
			lm, _, err := ReadImage(ctx, dst, loaded[0].Manifest.Digest)
			if err != nil {
				t.Fatal(err)
			}
			if lm.Config.Digest != m.Config.Digest {
				t.Errorf("image ID: got %s, want %s", lm.Config.Digest, m.Config.Digest)
			}
			for _, l := range lm.Layers {
				if l.MediaType != c.wantMT {
					t.Errorf("layer media type: got %s, want %s", l.MediaType, c.wantMT)
				}
			}
			// The rootfs of the loaded image has the whiteout applied.
			dir := t.TempDir()
			if err := WriteRootfs(ctx, dst, loaded[0].Manifest.Digest, dir); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(filepath.Join(dir, "etc", "gone")); err == nil {
				t.Errorf("rootfs: etc/gone exists, want it whited out")
			}
			if b, err := os.ReadFile(filepath.Join(dir, "etc", "b")); err != nil || string(b) != "b" {
				t.Errorf("rootfs: etc/b: got %q, %v, want b", b, err)
			}
		})
	}

	t.Run("archives-are-reproducible", func(t *testing.T) {
		var a, b bytes.Buffer
		if err := WriteOCI(ctx, src, &a, "", imgs, ArchiveOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := WriteOCI(ctx, src, &b, "", imgs, ArchiveOptions{}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("two OCI archives of one image differ")
		}
	})
}

// An opaque whiteout keeps what its own layer wrote and drops the rest.
func TestApplyLayerOpaque(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	steps := [][]byte{
		tartest.Build(t, tartest.Dir("d/"), tartest.File("d/old", "o"), tartest.File("keep", "k")),
		tartest.Build(t, tartest.Dir("d/"), tartest.File("d/new", "n"), tartest.File("d/.wh..wh..opq", "")),
	}
	for _, s := range steps {
		if err := ApplyLayer(ctx, bytes.NewReader(s), dir); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, p)
		got = append(got, rel)
		return nil
	})
	want := []string{".", "d", "d/new", "keep"}
	if g, w := jsonString(got), jsonString(want); g != w {
		t.Errorf("got %s, want %s", g, w)
	}
}

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }
