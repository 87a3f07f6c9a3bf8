package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// dfRow returns the COUNT and SIZE columns of a kiln system df row.
func dfRow(t *testing.T, root, typ string) (count int, size string) {
	t.Helper()
	stdout, _ := mustKiln(t, root, "system", "df")
	for _, l := range strings.Split(stdout, "\n") {
		if rest, ok := strings.CutPrefix(l, typ+" "); ok {
			f := strings.Fields(rest)
			n, err := strconv.Atoi(f[0])
			if err != nil {
				t.Fatalf("system df: row %q: %v", l, err)
			}
			return n, f[1]
		}
	}
	t.Fatalf("system df: got\n%s\nwant a row %q", stdout, typ)
	return 0, ""
}

func mustCheck(t *testing.T, root, when string) {
	t.Helper()
	stdout, stderr, code := kiln(t, root, "system", "check")
	if code != 0 || !strings.Contains(stdout, "store is consistent") {
		t.Fatalf("%s: system check: got exit status %d\n%s%s\nwant a consistent store", when, code, stdout, stderr)
	}
}

// kiln prune keeps what images use and removes the rest; --all drops the
// whole build cache and cache mounts; images still run afterwards.
func TestPrune(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nCOPY a /a\nRUN cat /a > /b\n",
		"a":          "one\n",
	})
	build(t, root, dir, "-t", "app")
	writeFiles(t, dir, map[string]string{"a": "two\n"})
	build(t, root, dir, "-t", "app") // the first app is dangling now
	mustCheck(t, root, "before prune")
	records, _ := dfRow(t, root, "Build Cache")
	if records < 4 {
		t.Fatalf("build cache before prune: got %d records, want at least 4", records)
	}

	// The busybox steps and the first app's are only used by a dangling
	// image, which still holds them; nothing an image uses goes.
	mustKiln(t, root, "prune")
	mustCheck(t, root, "after prune")
	if stdout, _ := mustKiln(t, root, "run", "--rm", "app", "cat", "/b"); stdout != "two\n" {
		t.Errorf("run app after prune: got %q, want %q", stdout, "two\n")
	}

	// A record younger than the filter stays.
	stdout, _ := mustKiln(t, root, "prune", "--all", "--filter", "until=1h")
	if !strings.Contains(stdout, "Deleted 0 cache records") {
		t.Errorf("prune --filter until=1h right after a build: got %q, want 0 records deleted", stdout)
	}

	if err := os.MkdirAll(filepath.Join(root, "mounts", "some-cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "mounts", "some-cache", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, _ := dfRow(t, root, "Cache Mounts"); n != 1 {
		t.Errorf("system df: got %d cache mounts, want 1", n)
	}
	mustKiln(t, root, "prune", "--all")
	mustCheck(t, root, "after prune --all")
	if n, size := dfRow(t, root, "Build Cache"); n != 0 || size != "0B" {
		t.Errorf("build cache after prune --all: got %d records, %s, want 0, 0B", n, size)
	}
	if n, _ := dfRow(t, root, "Cache Mounts"); n != 0 {
		t.Errorf("cache mounts after prune --all: got %d, want 0", n)
	}
	if stdout, _ := mustKiln(t, root, "run", "--rm", "app", "cat", "/b"); stdout != "two\n" {
		t.Errorf("run app after prune --all: got %q, want %q", stdout, "two\n")
	}
	// The build cache is gone, so the steps run again, and correctly.
	log, _ := build(t, root, dir, "-t", "app")
	log.wantRan(t, "RUN cat /a")
}

// Untagged images and the cache only they used go with rmi then prune; the
// store shrinks to what remains.
func TestPruneRemovesUnusedLayers(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN head -c 300000 /dev/urandom > /big\n",
	})
	build(t, root, dir, "-t", "big")
	layers, _ := dfRow(t, root, "Layers")
	mustKiln(t, root, "rmi", "big")
	stdout, _ := mustKiln(t, root, "prune")
	if !strings.Contains(stdout, "Deleted 1 cache records, 1 layers, 3 blobs") {
		t.Errorf("prune after rmi: got %q, want 1 record, 1 layer, 3 blobs (layer, config, manifest) deleted", stdout)
	}
	if after, _ := dfRow(t, root, "Layers"); after != layers-1 {
		t.Errorf("layers after prune: got %d, want %d", after, layers-1)
	}
	mustCheck(t, root, "after prune")
	mustKiln(t, root, "run", "--rm", "busybox", "true")
}

// --gc-keep-storage (or gc-keep-storage in config.toml) prunes after a
// build, least recently used cache first, keeping the images.
func TestAutoGC(t *testing.T) {
	for _, viaConfig := range []bool{false, true} {
		t.Run(map[bool]string{false: "flag", true: "config.toml"}[viaConfig], func(t *testing.T) {
			root := newBusyboxRoot(t)
			var args []string
			if viaConfig {
				if err := os.WriteFile(filepath.Join(root, "config.toml"), []byte("# test\ngc-keep-storage = \"1kB\"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				args = []string{"--gc-keep-storage", "1kB"}
			}
			for i := range 3 {
				dir := newContext(t, map[string]string{
					"Dockerfile": "FROM busybox\nRUN head -c 200000 /dev/urandom > /big && echo " + strconv.Itoa(i) + "\n",
				})
				build(t, root, dir, append(args, "-t", "img"+strconv.Itoa(i))...)
				mustKiln(t, root, "rmi", "img"+strconv.Itoa(i))
			}
			// Each build collected what the previous one left.
			n, _ := dfRow(t, root, "Build Cache")
			if n > 1 {
				t.Errorf("build cache after 3 builds with a 1kB limit: got %d records, want at most 1", n)
			}
			mustCheck(t, root, "after auto-GC")
			mustKiln(t, root, "run", "--rm", "busybox", "true")
		})
	}
}

// A bad config.toml is an error that names the line.
func TestConfigErrors(t *testing.T) {
	root := newBusyboxRoot(t)
	if err := os.WriteFile(filepath.Join(root, "config.toml"), []byte("gc-keep-storag = \"1GB\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := newContext(t, map[string]string{"Dockerfile": "FROM busybox\n"})
	_, stderr, code := kiln(t, root, "build", "-q", dir)
	if code == 0 || !strings.Contains(stderr, `config.toml:1: unknown key "gc-keep-storag"`) {
		t.Errorf("build with a bad config.toml: got exit status %d, stderr %q, want an error naming line 1", code, stderr)
	}
}

// A RUN --mount=type=cache directory shows in system df and goes with
// prune --all only.
func TestPruneCacheMounts(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN --mount=type=cache,target=/c head -c 50000 /dev/zero > /c/f\n",
	})
	build(t, root, dir)
	if n, _ := dfRow(t, root, "Cache Mounts"); n != 1 {
		t.Fatalf("system df after a build with a cache mount: got %d cache mounts, want 1", n)
	}
	mustKiln(t, root, "prune")
	if n, _ := dfRow(t, root, "Cache Mounts"); n != 1 {
		t.Errorf("cache mounts after prune: got %d, want 1 (only --all removes them)", n)
	}
	mustKiln(t, root, "prune", "--all")
	if n, _ := dfRow(t, root, "Cache Mounts"); n != 0 {
		t.Errorf("cache mounts after prune --all: got %d, want 0", n)
	}
	mustCheck(t, root, "after prune --all")
	build(t, root, dir, "--no-cache")
}
