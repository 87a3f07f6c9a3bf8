package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/internal/tartest"
)

// craft describes a hand-made image archive, honest except where a case
// says otherwise.
type craft struct {
	layer      []byte // the layer tar (uncompressed)
	gzip       bool
	badBlob    bool // the layer's bytes do not match its digest
	badDiffID  bool // the config's diff ID is not the layer's
	docker     bool // docker-archive (manifest.json) instead of OCI
	extraOuter []tartest.Entry
}

func (c craft) build(t *testing.T) []byte {
	t.Helper()
	blob := c.layer
	mt := ocispec.MediaTypeImageLayer
	if c.gzip {
		blob = tartest.Gzip(t, c.layer)
		mt = ocispec.MediaTypeImageLayerGzip
	}
	diffID := digest.FromBytes(c.layer)
	if c.badDiffID {
		diffID = digest.FromString("something else")
	}
	blobDigest := digest.FromBytes(blob)
	if c.badBlob {
		blob = append(append([]byte(nil), blob...), 0) // a trailing byte the digest does not cover
	}
	cfg, _ := json.Marshal(ocispec.Image{
		Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
	})
	man, _ := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))},
		Layers:    []ocispec.Descriptor{{MediaType: mt, Digest: blobDigest, Size: int64(len(blob))}},
	})
	idx, _ := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		Manifests: []ocispec.Descriptor{{
			MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(man), Size: int64(len(man)),
			Annotations: map[string]string{"io.containerd.image.name": "evil:latest"},
		}},
	})
	files := []tartest.Entry{
		tartest.File("oci-layout", `{"imageLayoutVersion":"1.0.0"}`),
		tartest.File("blobs/sha256/"+blobDigest.Encoded(), string(blob)),
		tartest.File("blobs/sha256/"+digest.FromBytes(cfg).Encoded(), string(cfg)),
		tartest.File("blobs/sha256/"+digest.FromBytes(man).Encoded(), string(man)),
	}
	if c.docker {
		dm, _ := json.Marshal([]map[string]any{{
			"Config":   "blobs/sha256/" + digest.FromBytes(cfg).Encoded(),
			"RepoTags": []string{"evil:latest"},
			"Layers":   []string{"blobs/sha256/" + blobDigest.Encoded()},
		}})
		files = append(files, tartest.File("manifest.json", string(dm)))
	} else {
		files = append(files, tartest.File("index.json", string(idx)))
	}
	return tartest.Build(t, append(c.extraOuter, files...)...)
}

// kiln load refuses hostile archives with a clear error, writes nothing
// outside the store, and tags nothing.
func TestImageLoadRefusesHostileArchives(t *testing.T) {
	canary := t.TempDir()
	canaryFile := filepath.Join(canary, "canary")
	if err := os.WriteFile(canaryFile, []byte("untouched"), 0o644); err != nil {
		t.Fatal(err)
	}
	up := strings.Repeat("../", 30) + strings.TrimPrefix(canary, "/")
	ok := tartest.Build(t, tartest.Dir("etc/"), tartest.File("etc/hello", "hi\n"))
	dev := tartest.File("dev/null", "")
	dev.Header.Typeflag, dev.Header.Devmajor, dev.Header.Devminor = tar.TypeChar, 1, 3
	sparse := tartest.File("s", "x")
	sparse.Header.Typeflag = tar.TypeCont

	for _, c := range []struct {
		name  string
		craft craft
		want  string
	}{
		{"traversal", craft{layer: tartest.Build(t, tartest.File(up+"/pwned", "x"))}, "path escapes layer root"},
		{"traversal-gzip-docker", craft{layer: tartest.Build(t, tartest.File("a/../../pwned", "x")), gzip: true, docker: true}, "path escapes layer root"},
		{"absolute", craft{layer: tartest.Build(t, tartest.File(canaryFile, "x"))}, "path escapes layer root"},
		{"symlink-then-write", craft{layer: tartest.Build(t, tartest.Symlink("evil", canary), tartest.File("evil/pwned", "x"))}, "written through symlink"},
		{"symlink-then-write-docker", craft{layer: tartest.Build(t, tartest.Symlink("evil", canary), tartest.Dir("evil/sub/")), docker: true}, "written through symlink"},
		{"hardlink-outside", craft{layer: tartest.Build(t, tartest.Link("passwd", canaryFile))}, "link escapes layer"},
		{"hardlink-up", craft{layer: tartest.Build(t, tartest.Link("passwd", "../../etc/passwd"))}, "link escapes layer"},
		{"hardlink-not-in-layer", craft{layer: tartest.Build(t, tartest.Link("passwd", "etc/passwd"))}, "not an earlier file of the layer"},
		{"unsupported-entry", craft{layer: tartest.Build(t, sparse)}, "unsupported entry type"},
		{"wrong-blob-digest", craft{layer: ok, badBlob: true}, "digest mismatch"},
		{"wrong-blob-digest-docker", craft{layer: ok, badBlob: true, docker: true}, "digest mismatch"},
		{"wrong-diff-id", craft{layer: ok, gzip: true, badDiffID: true}, "digest mismatch"},
		{"wrong-diff-id-docker", craft{layer: ok, badDiffID: true, docker: true}, "digest mismatch"},
		{"archive-entry-escapes", craft{layer: ok, extraOuter: []tartest.Entry{tartest.File(up+"/pwned", "x")}}, "path escapes layer root"},
		{"archive-symlink-escapes", craft{layer: ok, extraOuter: []tartest.Entry{tartest.Symlink("blobs", canary)}}, "blobs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := newRoot(t)
			archive := filepath.Join(t.TempDir(), "evil.tar")
			if err := os.WriteFile(archive, c.craft.build(t), 0o644); err != nil {
				t.Fatal(err)
			}
			_, stderr, code := kiln(t, root, "load", "-i", archive)
			if code == 0 {
				t.Fatalf("kiln load: got exit 0, want a refusal")
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("kiln load: got stderr %q, want it to contain %q", stderr, c.want)
			}
			if !strings.HasPrefix(stderr, "error: ") || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("kiln load: got stderr %q, want one line starting with error:", stderr)
			}
			checkCanary(t, canary, canaryFile)
			if out, _ := mustKiln(t, root, "images", "-q"); strings.TrimSpace(out) != "" {
				t.Errorf("kiln images -q after a refused load: got %q, want nothing", out)
			}
		})
	}

	t.Run("device", func(t *testing.T) {
		// Root may create device nodes, so the layer is accepted here; the
		// refusal for others is exercised by the exporter's unit tests.
		root := newRoot(t)
		archive := filepath.Join(t.TempDir(), "dev.tar")
		if err := os.WriteFile(archive, craft{layer: tartest.Build(t, tartest.Dir("dev/"), dev)}.build(t), 0o644); err != nil {
			t.Fatal(err)
		}
		mustKiln(t, root, "load", "-i", archive)
	})

	t.Run("honest", func(t *testing.T) {
		root := newRoot(t)
		archive := filepath.Join(t.TempDir(), "ok.tar")
		if err := os.WriteFile(archive, craft{layer: ok, gzip: true}.build(t), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, _ := mustKiln(t, root, "load", "-i", archive); !strings.Contains(out, "Loaded image: evil:latest") {
			t.Errorf("kiln load of an honest archive: got %q, want Loaded image: evil:latest", out)
		}
	})
}

func checkCanary(t *testing.T, dir, file string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("canary dir: got %v, want only canary", names)
	}
	if b, err := os.ReadFile(file); err != nil || !bytes.Equal(b, []byte("untouched")) {
		t.Errorf("canary: got %q, %v, want it untouched", b, err)
	}
}
