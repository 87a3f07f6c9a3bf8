package exporter

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/internal/tartest"
)

func zstdBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestCheckLayer(t *testing.T) {
	good := tartest.Build(t, tartest.Dir("etc/"), tartest.File("etc/a", "a"), tartest.Link("etc/b", "etc/a"),
		tartest.Symlink("lib", "usr/lib"), tartest.Dir("lib/"), tartest.File("lib/x", "replaced the symlink first"),
		tartest.File(".wh.gone", ""))
	for _, c := range []struct {
		name    string
		layer   []byte
		wantErr error
	}{
		{"good", good, nil},
		{"good-gzip", tartest.Gzip(t, good), nil},
		{"good-zstd", zstdBytes(t, good), nil},
		{"dotdot", tartest.Build(t, tartest.File("a/../../x", "")), ErrUnsafePath},
		{"absolute", tartest.Build(t, tartest.File("/etc/passwd", "")), ErrUnsafePath},
		{"through-symlink", tartest.Build(t, tartest.Symlink("d", "/etc"), tartest.File("d/passwd", "")), ErrUnsafeLink},
		{"through-nested-symlink", tartest.Build(t, tartest.Dir("a/"), tartest.Symlink("a/d", "/"), tartest.Dir("a/d/e/")), ErrUnsafeLink},
		{"link-outside", tartest.Build(t, tartest.Link("x", "../etc/passwd")), ErrUnsafeLink},
		{"link-absolute", tartest.Build(t, tartest.Link("x", "/etc/passwd")), ErrUnsafeLink},
		{"link-missing", tartest.Build(t, tartest.Link("x", "etc/passwd")), ErrUnsafeLink},
		{"link-to-dir", tartest.Build(t, tartest.Dir("d/"), tartest.Link("x", "d")), ErrUnsafeLink},
		{"link-through-symlink", tartest.Build(t, tartest.File("f", ""), tartest.Symlink("s", "."), tartest.Link("x", "s/f")), ErrUnsafeLink},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, _, err := CheckLayer(context.Background(), bytes.NewReader(c.layer))
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("got error %v, want %v", err, c.wantErr)
			}
			if err == nil && d != digest.FromBytes(good) {
				t.Errorf("got diff ID %s, want %s", d, digest.FromBytes(good))
			}
		})
	}
}

func TestCheckLayerDevices(t *testing.T) {
	hdr := &tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Devmajor: 1, Devminor: 3}
	for _, c := range []struct {
		canMknod bool
		wantErr  error
	}{{true, nil}, {false, ErrDevice}} {
		lc := layerChecker{symlinks: map[string]bool{}, files: map[string]bool{}, canMknod: c.canMknod}
		if err := lc.check(hdr); !errors.Is(err, c.wantErr) {
			t.Errorf("canMknod=%v: got %v, want %v", c.canMknod, err, c.wantErr)
		}
	}
}

// FuzzCheckLayer: no panic, and whatever CheckLayer accepts ExtractLayer
// extracts without writing outside its root.
func FuzzCheckLayer(f *testing.F) {
	f.Add(tartest.Build(f, tartest.File("a", "b")))
	f.Add(tartest.Build(f, tartest.Symlink("d", "/"), tartest.File("d/x", "")))
	f.Add(tartest.Gzip(f, tartest.Build(f, tartest.Dir("a/"), tartest.Link("a/l", "a"))))
	f.Fuzz(func(t *testing.T, b []byte) {
		CheckLayer(context.Background(), bytes.NewReader(b))
	})
}
