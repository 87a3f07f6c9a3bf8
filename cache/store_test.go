package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func openStore(t *testing.T, root string) *Store {
	t.Helper()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func needLinux(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("store locking needs Linux flock")
	}
}

func TestOpenLayout(t *testing.T) {
	needLinux(t)
	root := filepath.Join(t.TempDir(), "store")
	s := openStore(t, root)
	for _, p := range []string{"oci/blobs/sha256", "layers", "cache", "contexts", "mounts", "containers", "tmp", "lock", "oci/index.json"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
			t.Errorf("got %v, want %s to exist", err, p)
		}
	}
	b, err := os.ReadFile(filepath.Join(root, "oci", "oci-layout"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"imageLayoutVersion":"1.0.0"}`; got != want {
		t.Errorf("oci-layout: got %s, want %s", got, want)
	}
	var idx ocispec.Index
	b, _ = os.ReadFile(filepath.Join(root, "oci", "index.json"))
	if err := json.Unmarshal(b, &idx); err != nil || idx.SchemaVersion != 2 || idx.Manifests == nil {
		t.Errorf("index.json: got %s (%v), want an empty index", b, err)
	}
	if got := s.Root(); got != root {
		t.Errorf("Root: got %s, want %s", got, root)
	}
	dir, err := s.TempDir("x-")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp dir after Close: got %v, want it gone", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "tmp")); len(ents) != 0 {
		t.Errorf("tmp after Close: got %d entries, want 0", len(ents))
	}

	// Reopen keeps what is there.
	s2 := openStore(t, root)
	if _, _, err := s2.PutBlob(strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Images(); err != nil || len(got) != 0 {
		t.Errorf("Images after reopen: got %v, %v, want none", got, err)
	}
}

func TestBlobs(t *testing.T) {
	needLinux(t)
	s := openStore(t, t.TempDir())
	content := []byte("hello, kiln")
	d, n, err := s.PutBlob(bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	if want := digest.FromBytes(content); d != want || n != int64(len(content)) {
		t.Fatalf("PutBlob: got %s %d, want %s %d", d, n, want, len(content))
	}
	// Again: same digest, still one file.
	if d2, _, err := s.PutBlob(bytes.NewReader(content)); err != nil || d2 != d {
		t.Fatalf("PutBlob again: got %s, %v, want %s", d2, err, d)
	}
	if !s.HasBlob(d) {
		t.Errorf("HasBlob: got false, want true")
	}
	if s.HasBlob(digest.FromString("other")) {
		t.Errorf("HasBlob(missing): got true, want false")
	}
	got, err := s.ReadBlob(d)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("ReadBlob: got %q, %v, want %q", got, err, content)
	}
	if _, err := s.ReadBlob(digest.FromString("other")); !errors.Is(err, ErrNotFound) {
		t.Errorf("ReadBlob(missing): got %v, want ErrNotFound", err)
	}
	if got := s.BlobPath("sha256:../../etc"); got != "" {
		t.Errorf("BlobPath(invalid): got %q, want empty", got)
	}

	// Corrupt it: the read fails at EOF.
	if err := os.WriteFile(s.BlobPath(d), []byte("hello, KILN"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadBlob(d); !errors.Is(err, ErrDigestMismatch) {
		t.Errorf("ReadBlob(corrupt): got %v, want ErrDigestMismatch", err)
	}
}

func TestNormalizeRef(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	tests := []struct {
		in, want string // want "" means invalid
	}{
		{"app", "app:latest"},
		{"app:v1", "app:v1"},
		{"app:latest", "app:latest"},
		{"library/app", "library/app:latest"},
		{"localhost:5000/a/b", "localhost:5000/a/b:latest"},
		{"localhost:5000/a/b:1.2", "localhost:5000/a/b:1.2"},
		{"localhost", "localhost:latest"},
		{"localhost:5000", "localhost:5000"}, // name localhost, tag 5000, as Docker reads it
		{"Registry.Example.com/x", "Registry.Example.com/x:latest"},
		{"a-b__c.d/e---f", "a-b__c.d/e---f:latest"},
		{"a@sha256:" + hex, "a@sha256:" + hex},
		{"a:t@sha256:" + hex, "a:t@sha256:" + hex},
		{"app:_v1.0-rc", "app:_v1.0-rc"},
		{"[::1]:5000/app", "[::1]:5000/app:latest"},
		{"Foo", ""},
		{"app:", ""},
		{"app:-v1", ""},
		{"app:" + strings.Repeat("x", 129), ""},
		{"a//b", ""},
		{"a_-b", ""},
		{"-app", ""},
		{"app/", ""},
		{"", ""},
		{"a@sha256:abc", ""},
		{hex, ""},
		{"a b", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeRef(tt.in)
			if tt.want == "" {
				if !errors.Is(err, ErrInvalidReference) {
					t.Fatalf("got %q, %v, want ErrInvalidReference", got, err)
				}
				if !strings.Contains(err.Error(), `"`+tt.in+`"`) {
					t.Errorf("error: got %q, want it to name %q", err, tt.in)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v, want %q", got, err, tt.want)
			}
		})
	}
	if _, err := NormalizeRef("Foo"); err == nil || err.Error() != `invalid reference format: "Foo"` {
		t.Errorf(`got %v, want invalid reference format: "Foo"`, err)
	}
}

// putImage stores a manifest with the given config content and returns its
// descriptor and the image ID.
func putImage(t *testing.T, s *Store, config string) (ocispec.Descriptor, digest.Digest) {
	t.Helper()
	cd, cn, err := s.PutBlob(strings.NewReader(config))
	if err != nil {
		t.Fatal(err)
	}
	m := ocispec.Manifest{
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cd, Size: cn},
		Layers:    []ocispec.Descriptor{},
	}
	m.SchemaVersion = 2
	b, _ := json.Marshal(m)
	md, mn, err := s.PutBlob(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: md, Size: mn}, cd
}

func TestTagResolve(t *testing.T) {
	needLinux(t)
	s := openStore(t, t.TempDir())
	m1, id1 := putImage(t, s, `{"n":1}`)
	m2, id2 := putImage(t, s, `{"n":2}`)
	for ref, m := range map[string]ocispec.Descriptor{"app": m1, "app:v2": m2, "localhost:5000/x/y": m1} {
		if err := s.Tag(ref, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Tag("Bad", m1); !errors.Is(err, ErrInvalidReference) {
		t.Errorf("Tag(Bad): got %v, want ErrInvalidReference", err)
	}
	// Retag replaces.
	if err := s.Tag("app:v2", m2); err != nil {
		t.Fatal(err)
	}

	// A prefix long enough to tell the two IDs apart.
	n := 4
	for id1.Encoded()[:n] == id2.Encoded()[:n] {
		n++
	}
	tests := []struct {
		ref  string
		want digest.Digest // "" means not found
	}{
		{"app", m1.Digest},
		{"app:latest", m1.Digest},
		{"app:v2", m2.Digest},
		{"localhost:5000/x/y", m1.Digest},
		{m2.Digest.String(), m2.Digest},
		{id2.String(), m2.Digest},
		{id1.Encoded()[:n], m1.Digest},
		{id2.Encoded(), m2.Digest},
		{"nope", ""},
		{id1.Encoded()[:3], ""},
		{digest.FromString("none").String(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := s.Resolve(tt.ref)
			if tt.want == "" {
				if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), tt.ref) {
					t.Errorf("got %v, %v, want ErrNotFound naming %s", got.Digest, err, tt.ref)
				}
				return
			}
			if err != nil || got.Digest != tt.want {
				t.Errorf("got %s, %v, want %s", got.Digest, err, tt.want)
			}
		})
	}

	imgs, err := s.Images()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, im := range imgs {
		names = append(names, im.Name)
	}
	if got, want := strings.Join(names, " "), "app:latest app:v2 localhost:5000/x/y:latest"; got != want {
		t.Errorf("Images: got %s, want %s", got, want)
	}

	if err := s.Untag("app"); err != nil {
		t.Fatal(err)
	}
	if err := s.Untag("app"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Untag twice: got %v, want ErrNotFound", err)
	}
	if _, err := s.Resolve("app"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve after Untag: got %v, want ErrNotFound", err)
	}
	// Still reachable by ID through the other tag.
	if got, err := s.Resolve(id1.Encoded()[:n]); err != nil || got.Digest != m1.Digest {
		t.Errorf("Resolve by ID after Untag: got %s, %v, want %s", got.Digest, err, m1.Digest)
	}
	if imgs, _ := s.Images(); len(imgs) != 2 {
		t.Errorf("Images after Untag: got %d, want 2", len(imgs))
	}
}

func TestResolveAmbiguous(t *testing.T) {
	needLinux(t)
	s := openStore(t, t.TempDir())
	// Find two configs whose IDs share 4 hex digits.
	seen := map[string]string{}
	var a, b string
	for i := 0; a == ""; i++ {
		c := `{"i":` + strings.Repeat(" ", 0) + string(rune('0'+i%10)) + `,"j":"` + strings.Repeat("x", i/10) + `"}`
		p := digest.FromString(c).Encoded()[:4]
		if prev, ok := seen[p]; ok {
			a, b = prev, c
		}
		seen[p] = c
	}
	ma, ida := putImage(t, s, a)
	mb, _ := putImage(t, s, b)
	s.Tag("a", ma)
	s.Tag("b", mb)
	if _, err := s.Resolve(ida.Encoded()[:4]); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("got %v, want ErrAmbiguous", err)
	}
}

func testLayer(t *testing.T, s *Store, content string) (string, Layer) {
	t.Helper()
	dir, err := s.TempDir("upper-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	diffID := digest.FromString(content)
	return dir, Layer{ChainID: ChainID("", diffID), DiffID: diffID}
}

func TestAddLayer(t *testing.T) {
	needLinux(t)
	s := openStore(t, t.TempDir())
	dir, l := testLayer(t, s, "one")
	if _, ok, err := s.Layer(l.ChainID); ok || err != nil {
		t.Fatalf("Layer before: got %v, %v, want not ok", ok, err)
	}
	got, err := s.AddLayer(dir, l)
	if err != nil {
		t.Fatal(err)
	}
	if got.Created.IsZero() || got.ChainID != l.ChainID {
		t.Errorf("AddLayer: got %+v, want Created set", got)
	}
	if b, err := os.ReadFile(filepath.Join(s.LayerDir(l.ChainID), "f")); err != nil || string(b) != "one" {
		t.Errorf("diff/f: got %q, %v, want one", b, err)
	}
	have, ok, err := s.Layer(l.ChainID)
	if err != nil || !ok || !have.Created.Equal(got.Created) {
		t.Errorf("Layer: got %+v, %v, %v, want %+v", have, ok, err, got)
	}

	time.Sleep(10 * time.Millisecond)
	dir2, _ := testLayer(t, s, "one")
	got2, err := s.AddLayer(dir2, l)
	if err != nil {
		t.Fatal(err)
	}
	if !got2.Created.Equal(got.Created) {
		t.Errorf("second AddLayer Created: got %v, want %v", got2.Created, got.Created)
	}
	if _, err := os.Lstat(dir2); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("second AddLayer's dir: got %v, want it removed", err)
	}
}

func TestAddLayerConcurrent(t *testing.T) {
	needLinux(t)
	root := t.TempDir()
	// Two Stores stand for two processes; their fast path is skipped by
	// starting everyone at once.
	stores := []*Store{openStore(t, root), openStore(t, root)}
	const n = 16
	dirs := make([]string, n)
	var l Layer
	for i := range dirs {
		dirs[i], l = testLayer(t, stores[i%2], "same")
	}
	results := make([]Layer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = stores[i%2].AddLayer(dirs[i], l)
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("AddLayer %d: %v", i, errs[i])
		}
		if !results[i].Created.Equal(results[0].Created) {
			t.Errorf("AddLayer %d Created: got %v, want %v", i, results[i].Created, results[0].Created)
		}
		if _, err := os.Lstat(dirs[i]); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("dir %d: got %v, want it moved or removed", i, err)
		}
	}
	for _, s := range stores {
		ents, _ := os.ReadDir(s.session)
		if len(ents) != 0 {
			t.Errorf("session %s: got %d leftovers, want 0", filepath.Base(s.session), len(ents))
		}
	}
}

func TestStaleSessions(t *testing.T) {
	needLinux(t)
	root := t.TempDir()
	live := openStore(t, root)
	liveDir, err := live.TempDir("work-")
	if err != nil {
		t.Fatal(err)
	}

	// A dead session: its dir and lock file, nobody holding the lock, and an
	// overlay-like work/work at mode 000 and a symlink out that must not be
	// followed.
	outside := t.TempDir()
	victim := filepath.Join(outside, "keep")
	os.WriteFile(victim, []byte("x"), 0o644)
	dead := filepath.Join(root, "tmp", "deadbeef")
	if err := os.MkdirAll(filepath.Join(dead, "ov", "work", "work", "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dead, "ov", "work", "work"), 0)
	os.Symlink(outside, filepath.Join(dead, "link"))
	os.WriteFile(dead+".lock", nil, 0o600)
	// An orphan directory with no lock file at all.
	orphan := filepath.Join(root, "tmp", "orphan")
	os.Mkdir(orphan, 0o700)

	s := openStore(t, root)
	for _, p := range []string{dead, dead + ".lock", orphan} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: got %v, want removed", filepath.Base(p), err)
		}
	}
	if _, err := os.Lstat(victim); err != nil {
		t.Errorf("symlink target: got %v, want untouched", err)
	}
	if _, err := os.Lstat(liveDir); err != nil {
		t.Errorf("live session's dir: got %v, want kept", err)
	}
	// And the other way round.
	if err := live.Close(); err != nil {
		t.Fatal(err)
	}
	live2 := openStore(t, root)
	sd, err := s.TempDir("mine-")
	if err != nil {
		t.Fatal(err)
	}
	live2.Close()
	if _, err := os.Lstat(sd); err != nil {
		t.Errorf("open session's dir after another Open/Close: got %v, want kept", err)
	}
}

func TestLockExclusive(t *testing.T) {
	needLinux(t)
	root := t.TempDir()
	a := openStore(t, root)
	b := openStore(t, root)
	got := make(chan error, 1)
	go func() {
		unlock, err := a.LockExclusive()
		if err == nil {
			err = unlock()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("LockExclusive with another Store open: got %v, want it to wait", err)
	case <-time.After(100 * time.Millisecond):
	}
	b.Close()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("LockExclusive: still waiting after the other Store closed")
	}
	// Shared again: another Open succeeds.
	openStore(t, root)
}

func TestCacheRecords(t *testing.T) {
	needLinux(t)
	s := openStore(t, t.TempDir())
	dir, l := testLayer(t, s, "base")
	if _, err := s.AddLayer(dir, l); err != nil {
		t.Fatal(err)
	}
	missing := ChainID(l.ChainID, digest.FromString("gone"))
	tests := []struct {
		name   string
		rec    Record
		wantOK bool
	}{
		{"present", Record{Layers: []digest.Digest{l.ChainID}}, true},
		{"empty", Record{}, true},
		{"missing layer", Record{Layers: []digest.Digest{l.ChainID, missing}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := digest.FromString(tt.name)
			if _, ok, err := s.CacheRecord(key); ok || err != nil {
				t.Fatalf("before put: got %v, %v, want not ok", ok, err)
			}
			if err := s.PutCacheRecord(key, tt.rec); err != nil {
				t.Fatal(err)
			}
			got, ok, err := s.CacheRecord(key)
			if err != nil || ok != tt.wantOK {
				t.Fatalf("got %v, %v, want ok=%v", ok, err, tt.wantOK)
			}
			if ok && len(got.Layers) != len(tt.rec.Layers) {
				t.Errorf("got %v, want %v", got, tt.rec)
			}
		})
	}
}

func TestTagConcurrent(t *testing.T) {
	needLinux(t)
	root := t.TempDir()
	stores := []*Store{openStore(t, root), openStore(t, root)}
	m, _ := putImage(t, stores[0], `{}`)
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = stores[i%2].Tag(fmt.Sprintf("img%02d", i), m)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	imgs, err := stores[1].Images()
	if err != nil || len(imgs) != n {
		t.Errorf("Images: got %d, %v, want %d: no lost update", len(imgs), err, n)
	}
}

func TestKeepAndRemove(t *testing.T) {
	s := openStore(t, t.TempDir())
	desc, _ := putImage(t, s, "keep")
	if err := s.Keep(desc); err != nil {
		t.Fatal(err)
	}
	if err := s.Keep(desc); err != nil {
		t.Fatal(err)
	}
	if imgs, _ := s.Images(); len(imgs) != 0 {
		t.Fatalf("got %d named images after Keep, want 0", len(imgs))
	}
	if got, err := s.Resolve(desc.Digest.String()); err != nil || got.Digest != desc.Digest {
		t.Fatalf("Resolve(kept digest): got %v, %v; want %s", got.Digest, err, desc.Digest)
	}
	removed, err := s.Remove(desc.Digest.String())
	if err != nil || len(removed) != 1 {
		t.Fatalf("Remove: got %v, %v; want one entry removed", removed, err)
	}
	if _, err := s.Resolve(desc.Digest.String()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after Remove: got %v, want ErrNotFound", err)
	}

	for _, n := range []string{"a", "b"} {
		if err := s.Tag(n, desc); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Remove(desc.Digest.String()); !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("Remove by digest with two names: got %v, want ErrAmbiguous", err)
	}
	if removed, err := s.Remove("a"); err != nil || len(removed) != 1 || removed[0] != "a:latest" {
		t.Fatalf("Remove(a): got %v, %v; want [a:latest]", removed, err)
	}
	if _, err := s.Resolve("b"); err != nil {
		t.Fatalf("b should remain: %v", err)
	}
}

func TestTagMoveKeepsOldImageByID(t *testing.T) {
	s := openStore(t, t.TempDir())
	v1, id1 := putImage(t, s, "v1")
	v2, _ := putImage(t, s, "v2")
	if err := s.Keep(v1); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag("app", v1); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag("app", v2); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Resolve(id1.String()); err != nil || got.Digest != v1.Digest {
		t.Fatalf("Resolve(old ID): got %v, %v; want %s", got.Digest, err, v1.Digest)
	}
	if got, err := s.Resolve("app"); err != nil || got.Digest != v2.Digest {
		t.Fatalf("Resolve(app): got %v, %v; want %s", got.Digest, err, v2.Digest)
	}
	if imgs, _ := s.Images(); len(imgs) != 1 {
		t.Fatalf("got %d named images, want 1", len(imgs))
	}
	idx, err := s.readIndex()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(idx.Manifests); got != 2 {
		t.Fatalf("got %d index entries, want 2 (app and the old image, once each)", got)
	}
}

func TestBlobOrigins(t *testing.T) {
	s := openStore(t, t.TempDir())
	d := digest.FromString("layer")
	if got, err := s.BlobOrigins(d); err != nil || len(got) != 0 {
		t.Fatalf("BlobOrigins of an unknown blob: got %v, %v; want none", got, err)
	}
	for _, r := range []string{"reg:5000/a", "reg:5000/b", "reg:5000/a"} {
		if err := s.AddBlobOrigin(d, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.BlobOrigins(d)
	if err != nil || strings.Join(got, ",") != "reg:5000/a,reg:5000/b" {
		t.Fatalf("got %v, %v; want [reg:5000/a reg:5000/b]", got, err)
	}
	if err := s.AddBlobOrigin(d, "bad\nrepo"); err == nil {
		t.Errorf("AddBlobOrigin with a newline: got no error, want one")
	}
	if _, err := s.BlobOrigins("sha256:../../x"); err == nil {
		t.Errorf("BlobOrigins of an invalid digest: got no error, want one")
	}
}
