package cache

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// addTestLayer stores a layer of one file of size n over parent, with a
// blob, and returns its chain ID.
func addTestLayer(t *testing.T, s *Store, parent digest.Digest, name string, n int) digest.Digest {
	t.Helper()
	content := bytes.Repeat([]byte(name[:1]), n)
	bd, bn, err := s.PutBlob(bytes.NewReader(append([]byte("blob of "), content...)))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := s.TempDir("l")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
		t.Fatal(err)
	}
	diff := digest.FromString("diff " + name)
	l, err := s.AddLayer(dir, Layer{ChainID: ChainID(parent, diff), DiffID: diff, Blob: ocispec.Descriptor{Digest: bd, Size: bn}})
	if err != nil {
		t.Fatal(err)
	}
	return l.ChainID
}

func putRecord(t *testing.T, s *Store, name string, age time.Duration, layers ...digest.Digest) digest.Digest {
	t.Helper()
	key := digest.FromString("key " + name)
	if err := s.PutCacheRecord(key, Record{Layers: layers}); err != nil {
		t.Fatal(err)
	}
	p, _ := s.recordPath(key)
	old := time.Now().Add(-age)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	return key
}

func TestPrune(t *testing.T) {
	needLinux(t)
	tests := []struct {
		name     string
		opt      PruneOptions
		wantKept []string // records left
	}{
		{"dangling", PruneOptions{}, nil},
		{"until spares recent", PruneOptions{Until: time.Hour}, []string{"new"}},
		{"keep storage drops least recently used first", PruneOptions{KeepStorage: 45000}, []string{"new"}},
		{"keep storage already met", PruneOptions{KeepStorage: 1 << 30}, []string{"old", "new"}},
		{"all", PruneOptions{All: true}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			base := addTestLayer(t, s, "", "base", 10000)
			oldL := addTestLayer(t, s, base, "old", 10000)
			newL := addTestLayer(t, s, base, "new", 10000)
			addTestLayer(t, s, "", "orphan", 100)
			if _, _, err := s.PutBlob(strings.NewReader("orphan blob")); err != nil {
				t.Fatal(err)
			}
			keys := map[string]digest.Digest{
				"old": putRecord(t, s, "old", 48*time.Hour, base, oldL),
				"new": putRecord(t, s, "new", time.Minute, base, newL),
			}
			if _, err := s.Prune(tc.opt); err != nil {
				t.Fatal(err)
			}
			kept := map[string]bool{}
			for _, k := range tc.wantKept {
				kept[k] = true
			}
			for name, key := range keys {
				_, ok, err := s.CacheRecord(key)
				if err != nil {
					t.Fatal(err)
				}
				if ok != kept[name] {
					t.Errorf("record %s: got kept %v, want %v", name, ok, kept[name])
				}
			}
			u, err := s.scan()
			if err != nil {
				t.Fatal(err)
			}
			// Exactly the layers kept records use remain, with their blobs.
			wantLayers := 0
			if len(tc.wantKept) > 0 {
				wantLayers = 1 + len(tc.wantKept)
			}
			if len(u.layers) != wantLayers || len(u.blobs) != wantLayers {
				t.Errorf("got %d layers and %d blobs, want %d of each", len(u.layers), len(u.blobs), wantLayers)
			}
			if problems, err := s.Check(); err != nil || len(problems) > 0 {
				t.Errorf("Check after Prune: got %v, %v, want no problems", problems, err)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	needLinux(t)
	tests := []struct {
		name   string
		damage func(t *testing.T, s *Store, layer digest.Digest)
		want   string
	}{
		{"clean", func(*testing.T, *Store, digest.Digest) {}, ""},
		{"corrupt blob", func(t *testing.T, s *Store, l digest.Digest) {
			meta, _, _ := s.Layer(l)
			p := s.BlobPath(meta.Blob.Digest)
			os.Chmod(p, 0o644)
			if err := os.WriteFile(p, []byte("evil"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "digest mismatch"},
		{"missing layer", func(t *testing.T, s *Store, l digest.Digest) {
			if err := os.RemoveAll(s.layerPath(l)); err != nil {
				t.Fatal(err)
			}
		}, "missing or incomplete"},
		{"layer without meta", func(t *testing.T, s *Store, l digest.Digest) {
			if err := os.Remove(filepath.Join(s.layerPath(l), "meta.json")); err != nil {
				t.Fatal(err)
			}
		}, "incomplete (no meta.json"},
		{"torn record", func(t *testing.T, s *Store, l digest.Digest) {
			p, _ := s.recordPath(digest.FromString("key r"))
			if err := os.WriteFile(p, []byte(`{"layers":[`), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "unreadable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			l := addTestLayer(t, s, "", "a", 10)
			putRecord(t, s, "r", 0, l)
			tc.damage(t, s, l)
			problems, err := s.Check()
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(problems, "\n")
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("got problems %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHistoryRoundTrip(t *testing.T) {
	s := openStore(t, t.TempDir())
	id := HistoryID("/ctx", "/ctx/Dockerfile", "")
	if h, err := s.BuildHistory(id); err != nil || len(h.Steps) != 0 {
		t.Fatalf("empty history: got %v, %v, want no steps", h, err)
	}
	want := History{Steps: map[string]StepHistory{"2": {ID: "2", Kind: "exec", Key: digest.FromString("k"), Env: []string{"A=1"}}}}
	if err := s.PutBuildHistory(id, want); err != nil {
		t.Fatal(err)
	}
	got, err := s.BuildHistory(id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Steps["2"].Key != want.Steps["2"].Key || got.Steps["2"].Env[0] != "A=1" {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := s.BuildHistory("../x"); err == nil {
		t.Errorf("BuildHistory(../x): got no error, want one")
	}
}

func TestChecksumContextFiles(t *testing.T) {
	s := openStore(t, t.TempDir())
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "src"), 0o755)
	os.WriteFile(filepath.Join(dir, "src", "a"), []byte("a"), 0o600)
	ctx := context.Background()
	sum, files, err := s.ChecksumContextFiles(ctx, dir, []string{"src"}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := s.ChecksumContext(ctx, dir, []string{"src"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum != plain {
		t.Errorf("ChecksumContextFiles: got %s, want ChecksumContext's %s", sum, plain)
	}
	if want := "f 0600 " + digest.FromString("a").String(); files["src/a"] != want {
		t.Errorf("files[src/a]: got %q, want %q", files["src/a"], want)
	}
	// Without modes (COPY --chmod), another umask gives the same sum.
	a, _, _ := s.ChecksumContextFiles(ctx, dir, []string{"src"}, nil, true)
	os.Chmod(filepath.Join(dir, "src", "a"), 0o644)
	os.Chmod(filepath.Join(dir, "src"), 0o700)
	b, _, _ := s.ChecksumContextFiles(ctx, dir, []string{"src"}, nil, true)
	if a != b {
		t.Errorf("ignoring modes: got %s after chmod, %s before, want the same", b, a)
	}
	if c, _ := s.ChecksumContext(ctx, dir, []string{"src"}, nil); c == plain {
		t.Errorf("with modes: got the same sum after chmod, want another")
	}
}
