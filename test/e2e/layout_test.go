package e2e

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The store's oci/ folder is a plain OCI image layout that other tools can
// read: every blob matches its digest, the manifest's config is the image
// ID, each layer decompresses to its diff ID, and layers carry deletions as
// OCI whiteouts, hard links as links, and no access or change times.
func TestStoreIsOCILayout(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": `FROM busybox
COPY a.txt /a.txt
RUN mkdir -p /d/sub && echo old > /d/sub/f && echo z > /gone && echo keep > /keep
RUN rm /gone && rm -r /d && mkdir /d && echo new > /d/new \
 && echo h > /h1 && ln /h1 /h2 && ln -s /h1 /sym && cp /a.txt /suid && chmod 4755 /suid
ENV X=1
`,
		"a.txt": "a\n",
	})
	_, id := build(t, root, dir, "-t", "layout-test")
	oci := filepath.Join(root, "oci")

	var layout ocispec.ImageLayout
	readJSON(t, filepath.Join(oci, ocispec.ImageLayoutFile), &layout)
	if layout.Version != ocispec.ImageLayoutVersion {
		t.Errorf("oci-layout: got version %q, want %q", layout.Version, ocispec.ImageLayoutVersion)
	}
	var index ocispec.Index
	readJSON(t, filepath.Join(oci, ocispec.ImageIndexFile), &index)
	var desc *ocispec.Descriptor
	for i, d := range index.Manifests {
		if name := d.Annotations[ocispec.AnnotationRefName]; name == "layout-test:latest" || strings.HasSuffix(name, "/layout-test:latest") {
			desc = &index.Manifests[i]
		}
	}
	if desc == nil {
		t.Fatalf("index.json: got %+v, want a manifest named layout-test:latest (annotation %s)", index.Manifests, ocispec.AnnotationRefName)
	}
	if desc.MediaType != ocispec.MediaTypeImageManifest {
		t.Errorf("index.json: got media type %q, want %q", desc.MediaType, ocispec.MediaTypeImageManifest)
	}

	var manifest ocispec.Manifest
	if err := json.Unmarshal(readBlob(t, oci, *desc), &manifest); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if manifest.SchemaVersion != 2 || manifest.Config.MediaType != ocispec.MediaTypeImageConfig {
		t.Errorf("manifest: got schema %d, config media type %q, want 2 and %q", manifest.SchemaVersion, manifest.Config.MediaType, ocispec.MediaTypeImageConfig)
	}
	if manifest.Config.Digest.String() != id {
		t.Errorf("manifest: got config %s, want the image ID %s", manifest.Config.Digest, id)
	}
	var config ocispec.Image
	if err := json.Unmarshal(readBlob(t, oci, manifest.Config), &config); err != nil {
		t.Fatalf("config: %v", err)
	}
	if len(manifest.Layers) != len(config.RootFS.DiffIDs) {
		t.Fatalf("manifest: got %d layers, config %d diff IDs, want them equal", len(manifest.Layers), len(config.RootFS.DiffIDs))
	}
	if len(manifest.Layers) != 5 {
		t.Errorf("manifest: got %d layers, want 5 (busybox's 2, COPY, 2 RUNs; ENV adds none)", len(manifest.Layers))
	}

	var last []*tar.Header
	for i, l := range manifest.Layers {
		blob := readBlob(t, oci, l)
		var r io.Reader
		switch l.MediaType {
		case ocispec.MediaTypeImageLayerGzip:
			zr, err := gzip.NewReader(strings.NewReader(string(blob)))
			if err != nil {
				t.Fatalf("layer %d: %v", i, err)
			}
			r = zr
		case ocispec.MediaTypeImageLayer:
			r = strings.NewReader(string(blob))
		default:
			t.Logf("layer %d: media type %s not checked", i, l.MediaType)
			continue
		}
		h := sha256.New()
		headers := readTar(t, io.TeeReader(r, h))
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != config.RootFS.DiffIDs[i].String() {
			t.Errorf("layer %d: got uncompressed digest %s, want diff ID %s", i, got, config.RootFS.DiffIDs[i])
		}
		last = headers
	}

	byName := map[string]*tar.Header{}
	var names []string
	for _, h := range last {
		name := strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")
		byName[strings.TrimSuffix(name, "/")] = h
		names = append(names, name)
		if !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			t.Errorf("last layer %s: got atime %v, ctime %v, want none (reproducible layers)", h.Name, h.AccessTime, h.ChangeTime)
		}
	}
	// Sorted as a walk of the tree is: a directory, then what is in it.
	byPath := func(a, b string) int {
		return slices.Compare(strings.Split(strings.TrimSuffix(a, "/"), "/"), strings.Split(strings.TrimSuffix(b, "/"), "/"))
	}
	if !slices.IsSortedFunc(names, byPath) {
		t.Errorf("last layer: got entries %q, want them sorted by path", names)
	}
	if _, ok := byName[".wh.gone"]; !ok {
		t.Errorf("last layer: got %q, want a whiteout .wh.gone for the deleted /gone", names)
	}
	_, opaque := byName["d/.wh..wh..opq"]
	_, subWhiteout := byName["d/.wh.sub"]
	if !opaque && !subWhiteout {
		t.Errorf("last layer: got %q, want d/.wh..wh..opq (or d/.wh.sub) for the remade /d", names)
	}
	for _, n := range names {
		if strings.HasPrefix(n, "d/sub/") {
			t.Errorf("last layer: got %s, want nothing of the removed /d/sub", n)
		}
	}
	h1, h2 := byName["h1"], byName["h2"]
	switch {
	case h1 == nil || h2 == nil:
		t.Errorf("last layer: got %q, want h1 and h2", names)
	case h2.Typeflag != tar.TypeLink && h1.Typeflag != tar.TypeLink:
		t.Errorf("last layer: got h1 type %c, h2 type %c, want one a hard link to the other", h1.Typeflag, h2.Typeflag)
	}
	if s := byName["sym"]; s == nil || s.Typeflag != tar.TypeSymlink || s.Linkname != "/h1" {
		t.Errorf("last layer: got sym %+v, want a symlink to /h1", s)
	}
	if s := byName["suid"]; s == nil || s.Mode&0o7777 != 0o4755 {
		t.Errorf("last layer: got suid %+v, want mode 4755", s)
	}
	if _, ok := byName["keep"]; ok {
		t.Errorf("last layer: got /keep, want only what the RUN changed")
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
}

// readBlob reads a blob of the layout and checks its digest and size.
func readBlob(t *testing.T, oci string, d ocispec.Descriptor) []byte {
	t.Helper()
	if err := d.Digest.Validate(); err != nil {
		t.Fatalf("descriptor %+v: %v", d, err)
	}
	data, err := os.ReadFile(filepath.Join(oci, "blobs", d.Digest.Algorithm().String(), d.Digest.Encoded()))
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Digest.Algorithm().FromBytes(data); got != d.Digest {
		t.Errorf("blob %s: got content digest %s, want it equal", d.Digest, got)
	}
	if int64(len(data)) != d.Size {
		t.Errorf("blob %s: got %d bytes, want size %d", d.Digest, len(data), d.Size)
	}
	return data
}

func readTar(t *testing.T, r io.Reader) []*tar.Header {
	t.Helper()
	tr := tar.NewReader(r)
	var out []*tar.Header
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("tar: %v", err)
		}
		out = append(out, h)
	}
	// Read to the end, so the digest covers the padding too.
	io.Copy(io.Discard, r)
	return out
}
