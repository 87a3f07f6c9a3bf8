package solver

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/executor"
	"github.com/kiln-build/kiln/llb"
)

// fileServer serves *body at every path on 127.0.0.1 and counts requests.
func fileServer(t *testing.T, body *atomic.Value, hits *atomic.Int32) *httptest.Server {
	t.Helper()
	lm := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Last-Modified", lm.Format(http.TimeFormat))
		w.Write([]byte(body.Load().(string)))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func openStore(t *testing.T) *cache.Store {
	t.Helper()
	s, err := cache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestHTTPFetch(t *testing.T) {
	var body atomic.Value
	body.Store("hello")
	var hits atomic.Int32
	srv := fileServer(t, &body, &hits)
	good := digest.FromString("hello")
	bad := digest.FromString("other")
	tests := []struct {
		name     string
		path     string
		checksum digest.Digest
		wantErr  []string
	}{
		{name: "no checksum", path: "/f"},
		{name: "checksum ok", path: "/f", checksum: good},
		{name: "checksum mismatch", path: "/f", checksum: bad, wantErr: []string{srv.URL + "/f", good.String(), bad.String()}},
		{name: "not found", path: "/missing", wantErr: []string{srv.URL + "/missing", "404"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := openStore(t)
			v := llb.NewVertex(&llb.HTTPOp{URL: srv.URL + tt.path, Checksum: tt.checksum, Filename: "f.txt"}, llb.Meta{Name: "ADD"})
			layers, err := New(store, &fakeExecutor{}).Solve(context.Background(), v, Options{})
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("got no error, want one naming %v", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("got %q, want it to contain %q", err, w)
					}
				}
				if tt.checksum != "" && !errors.Is(err, ErrChecksumMismatch) {
					t.Errorf("got %v, want ErrChecksumMismatch", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(layers) != 1 {
				t.Fatalf("got %d layers, want 1", len(layers))
			}
			p := filepath.Join(store.LayerDir(layers[0].ChainID), "f.txt")
			fi, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("got mode %v, want 0600", fi.Mode().Perm())
			}
			if want := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC); !fi.ModTime().Equal(want) {
				t.Errorf("got mtime %v, want %v (Last-Modified)", fi.ModTime(), want)
			}
			if b, _ := os.ReadFile(p); string(b) != "hello" {
				t.Errorf("got %q, want %q", b, "hello")
			}
		})
	}
}

// With a checksum a cached fetch never downloads; without, every build
// downloads and unchanged content keeps the next step cached.
func TestHTTPCaching(t *testing.T) {
	var body atomic.Value
	body.Store("v1")
	var hits atomic.Int32
	srv := fileServer(t, &body, &hits)
	store := openStore(t)
	ex := &fakeExecutor{}
	s := New(store, ex)
	solve := func(checksum digest.Digest) {
		t.Helper()
		src := llb.NewVertex(&llb.HTTPOp{URL: srv.URL + "/f", Checksum: checksum, Filename: "f"}, llb.Meta{Name: "ADD"})
		if _, err := s.Solve(context.Background(), run("cat /f", "RUN", src), Options{}); err != nil {
			t.Fatal(err)
		}
	}
	sum := digest.FromString("v1")
	solve(sum)
	solve(sum)
	if got := hits.Load(); got != 1 {
		t.Errorf("with checksum: got %d downloads, want 1", got)
	}
	hits.Store(0)
	ex.runs.Store(0)
	solve("")
	solve("")
	if got := hits.Load(); got != 2 {
		t.Errorf("without checksum: got %d downloads, want 2", got)
	}
	if got := ex.runs.Load(); got != 0 {
		t.Errorf("got %d runs of the next step, want 0 (same content as the checksummed fetch)", got)
	}
	body.Store("v2")
	solve("")
	if got := ex.runs.Load(); got != 1 {
		t.Errorf("after a content change: got %d runs of the next step, want 1", got)
	}
}

func TestExecMounts(t *testing.T) {
	ctxV := llb.NewVertex(&llb.LocalOp{Name: "context"}, llb.Meta{Name: "context"})
	exec := func(ms ...llb.Mount) *llb.Vertex {
		return llb.NewVertex(&llb.ExecOp{Args: []string{"true"}, Cwd: "/", Mounts: ms}, llb.Meta{Name: "RUN", Text: "RUN true"}, nil, ctxV)
	}
	t.Run("required secret missing", func(t *testing.T) {
		_, err := New(newFakeStore(t), &fakeExecutor{}).Solve(context.Background(), exec(llb.Mount{Type: llb.MountSecret, ID: "tok", Required: true}), Options{})
		if !errors.Is(err, ErrSecretMissing) || !strings.Contains(err.Error(), `"tok"`) {
			t.Errorf("got %v, want ErrSecretMissing naming tok", err)
		}
	})
	t.Run("secret given, optional missing", func(t *testing.T) {
		var got []executor.Mount
		ex := &fakeExecutor{onRun: func(_ context.Context, s executor.Spec) error { got = s.Mounts; return nil }}
		v := exec(llb.Mount{Type: llb.MountSecret, ID: "tok"}, llb.Mount{Type: llb.MountSecret, ID: "absent"})
		if _, err := New(newFakeStore(t), ex).Solve(context.Background(), v, Options{Secrets: map[string][]byte{"tok": []byte("s3cr3t")}}); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Target != "/run/secrets/tok" || string(got[0].Data) != "s3cr3t" || !got[0].ReadOnly {
			t.Errorf("got %+v, want one read-only secret at /run/secrets/tok", got)
		}
	})
	t.Run("secret content is not in the key", func(t *testing.T) {
		ex := &fakeExecutor{}
		st := newFakeStore(t)
		v := exec(llb.Mount{Type: llb.MountSecret, ID: "tok"})
		for _, s := range []string{"a", "b"} {
			if _, err := New(st, ex).Solve(context.Background(), v, Options{Secrets: map[string][]byte{"tok": []byte(s)}}); err != nil {
				t.Fatal(err)
			}
		}
		if got := ex.runs.Load(); got != 1 {
			t.Errorf("got %d runs, want 1", got)
		}
	})
	t.Run("context bind content is in the key", func(t *testing.T) {
		ex := &fakeExecutor{}
		st := newFakeStore(t)
		v := exec(llb.Mount{Type: llb.MountBind, Input: 1, Source: "src", Target: "/src", ReadOnly: true})
		for _, c := range []string{"a", "a", "b"} {
			st.sums["src"] = digest.FromString(c)
			if _, err := New(st, ex).Solve(context.Background(), v, Options{ContextDir: t.TempDir()}); err != nil {
				t.Fatal(err)
			}
		}
		if got := ex.runs.Load(); got != 2 {
			t.Errorf("got %d runs, want 2 (the content changed once)", got)
		}
	})
	t.Run("cache mount", func(t *testing.T) {
		var got []executor.Mount
		ex := &fakeExecutor{onRun: func(_ context.Context, s executor.Spec) error { got = s.Mounts; return nil }}
		store := openStore(t)
		v := exec(llb.Mount{Type: llb.MountCache, ID: "../../x", Target: "/c", Sharing: cache.SharingLocked, Mode: 0o700, UID: 7})
		if _, err := New(store, ex).Solve(context.Background(), v, Options{}); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || filepath.Dir(got[0].Source) != filepath.Join(store.Root(), "mounts") {
			t.Fatalf("got %+v, want a dir under mounts/", got)
		}
		fi, err := os.Stat(got[0].Source)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("got %v, %v, want mode 0700", fi, err)
		}
	})
	t.Run("cache mount without a store for it", func(t *testing.T) {
		_, err := New(newFakeStore(t), &fakeExecutor{}).Solve(context.Background(), exec(llb.Mount{Type: llb.MountCache, Target: "/c"}), Options{})
		if err == nil {
			t.Errorf("got no error, want one")
		}
	})
}
