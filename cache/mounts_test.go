package cache

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCacheMountPersistsAndInitsOnce(t *testing.T) {
	needLinux(t)
	root := t.TempDir()
	s := openStore(t, root)
	var inits atomic.Int32
	init := func(dir string) error {
		inits.Add(1)
		return os.WriteFile(filepath.Join(dir, "seed"), []byte("seed"), 0o644)
	}
	for i := 0; i < 2; i++ {
		dir, release, err := s.CacheMount(context.Background(), "/root/.cache", SharingShared, init)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := os.WriteFile(filepath.Join(dir, "kept"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		} else if _, err := os.Stat(filepath.Join(dir, "kept")); err != nil {
			t.Errorf("got %v, want the file written by the first user", err)
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
	}
	if n := inits.Load(); n != 1 {
		t.Errorf("got %d inits, want 1", n)
	}
}

// An id is never a path: traversal attempts name directories under mounts/
// like any other id (Buildah's CVE-2024-9675).
func TestCacheMountIDIsNotAPath(t *testing.T) {
	needLinux(t)
	root := t.TempDir()
	s := openStore(t, root)
	for _, id := range []string{"../../..", "/", "../cache", "a/../../b", ".."} {
		dir, release, err := s.CacheMount(context.Background(), id, SharingLocked, nil)
		if err != nil {
			t.Fatalf("id %q: %v", id, err)
		}
		release()
		if filepath.Dir(dir) != filepath.Join(s.Root(), "mounts") || strings.Contains(filepath.Base(dir), ".") {
			t.Errorf("id %q: got %s, want a hashed name under mounts/", id, dir)
		}
	}
	if _, _, err := s.CacheMount(context.Background(), "x", "bogus", nil); err == nil {
		t.Errorf("got no error for an unknown sharing mode, want one")
	}
}

func TestCacheMountSharing(t *testing.T) {
	needLinux(t)
	s := openStore(t, t.TempDir())
	ctx := context.Background()
	tests := []struct {
		sharing string
		sameDir bool
		waits   bool
	}{
		{SharingShared, true, false},
		{SharingLocked, true, true},
		{SharingPrivate, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.sharing, func(t *testing.T) {
			id := "id-" + tt.sharing
			d1, rel1, err := s.CacheMount(ctx, id, tt.sharing, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan string, 1)
			go func() {
				d2, rel2, err := s.CacheMount(ctx, id, tt.sharing, nil)
				if err != nil {
					got <- "error: " + err.Error()
					return
				}
				rel2()
				got <- d2
			}()
			var d2 string
			select {
			case d2 = <-got:
				if tt.waits {
					t.Errorf("got the mount while it was locked, want the second user to wait")
				}
			case <-time.After(300 * time.Millisecond):
				if !tt.waits {
					t.Fatalf("got the second user waiting, want it served at once")
				}
				rel1()
				rel1 = func() error { return nil }
				d2 = <-got
			}
			rel1()
			if (d1 == d2) != tt.sameDir {
				t.Errorf("got dirs %s and %s, want same=%v", d1, d2, tt.sameDir)
			}
		})
	}
}

func TestCacheMountWaitCancelled(t *testing.T) {
	needLinux(t)
	s := openStore(t, t.TempDir())
	_, release, err := s.CacheMount(context.Background(), "x", SharingLocked, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := s.CacheMount(ctx, "x", SharingLocked, nil); err == nil {
		t.Errorf("got the locked mount, want the wait to end with the context")
	}
}
