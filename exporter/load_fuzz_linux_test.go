package exporter

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-build/kiln/internal/tartest"
)

// FuzzLoadArchive feeds fuzzed archives to LoadArchive (kiln load): no
// panic, and nothing written outside the directory it unpacks into,
// whatever names, links and manifests the archive holds.
func FuzzLoadArchive(f *testing.F) {
	layer := tartest.Build(f, tartest.File("etc/hostname", "x\n"), tartest.Symlink("lib", "usr/lib"))
	diffID := fmt.Sprintf("sha256:%x", sha256.Sum256(layer))
	manifest := tartest.File("manifest.json", `[{"Config":"config.json","RepoTags":["a:b"],"Layers":["layer.tar"]}]`)
	config := tartest.File("config.json", `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["`+diffID+`"]}}`)
	good := tartest.Build(f, manifest, config, tartest.File("layer.tar", string(layer)))
	f.Add(good)
	f.Add(tartest.Gzip(f, good))
	if loaded, err := LoadArchive(context.Background(), newMemStore(), bytes.NewReader(good), f.TempDir()); err != nil || len(loaded) != 1 {
		f.Fatalf("the good seed: got %v, %v; want one image loaded", loaded, err)
	}
	for _, evil := range [][]tartest.Entry{
		{manifest, config, tartest.File("layer.tar", string(layer)), tartest.File("../../"+escapeName, "x")},
		{tartest.Symlink("blobs", "/"), tartest.File("blobs/tmp/"+escapeName, "x"), tartest.File("oci-layout", `{"imageLayoutVersion":"1.0.0"}`)},
		{tartest.Symlink("manifest.json", "/etc/passwd"), config},
		{tartest.Link("config.json", "/etc/passwd"), manifest},
		{tartest.File("index.json", `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:`+fmt.Sprintf("%x", sha256.Sum256(nil))+`","size":0}]}`), tartest.File("oci-layout", `{"imageLayoutVersion":"1.0.0"}`)},
	} {
		f.Add(tartest.Build(f, evil...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		root := filepath.Join(parent, "root")
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		_, _ = LoadArchive(context.Background(), newMemStore(), bytes.NewReader(data), root)
		if got := outside(t, parent); len(got) > 0 {
			t.Fatalf("got files outside the unpack directory: %v", got)
		}
	})
}
