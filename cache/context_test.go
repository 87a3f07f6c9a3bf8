package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/patternmatcher"

	digest "github.com/opencontainers/go-digest"
)

// writeTree creates files under dir: a value ending in "/" is a directory,
// one starting with "->" a symlink to the rest, anything else file content.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, v := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasSuffix(v, "/"):
			err = os.MkdirAll(p, 0o755)
		case strings.HasPrefix(v, "->"):
			err = os.Symlink(v[2:], p)
		default:
			err = os.WriteFile(p, []byte(v), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

var baseTree = map[string]string{
	"app/main.go":     "package main",
	"app/util/u.go":   "package util",
	"app/link":        "->main.go",
	"app/secret.key":  "shh",
	"README.md":       "# readme",
	"notes.txt":       "notes",
	"docs/a.md":       "a",
	"docs/b.md":       "b",
	"linkdir":         "->app/util",
	"empty/":          "/",
	"build/out.bin":   "binary",
	"build/keep.txt":  "keep",
	"deep/x/y/z.txt":  "z",
	"escape":          "->../../outside",
	"escape-abs":      "->/etc",
	"node_modules/m":  "m",
	"node_modules/n/": "/",
}

func checksum(t *testing.T, s *Store, dir string, srcs, excludes []string) digest.Digest {
	t.Helper()
	d, err := s.ChecksumContext(context.Background(), dir, srcs, excludes)
	if err != nil {
		t.Fatalf("ChecksumContext(%v, %v): %v", srcs, excludes, err)
	}
	return d
}

// TestChecksumContextChanges edits a context and checks which edits change
// the digest of a COPY.
func TestChecksumContextChanges(t *testing.T) {
	excludes := []string{"app/*.key", "build", "!build/keep.txt"}
	tests := []struct {
		name    string
		srcs    []string
		edit    func(t *testing.T, dir string)
		changes bool
	}{
		{"edit selected file", []string{"app"}, writeFile("app/main.go", "package main // v2"), true},
		{"edit file under dir", []string{"app/"}, writeFile("app/util/u.go", "package util2"), true},
		{"add file under dir", []string{"app"}, writeFile("app/new.go", "x"), true},
		{"remove file under dir", []string{"app"}, remove("app/util/u.go"), true},
		{"edit unselected file", []string{"app"}, writeFile("README.md", "changed"), false},
		{"edit excluded file", []string{"app"}, writeFile("app/secret.key", "leaked"), false},
		{"add excluded file", []string{"app"}, writeFile("app/other.key", "x"), false},
		{"edit excluded dir", []string{"build"}, writeFile("build/out.bin", "other"), false},
		{"edit exception in excluded dir", []string{"build"}, writeFile("build/keep.txt", "new"), true},
		{"mtime only", []string{"app"}, chtimes("app/main.go"), false},
		{"mtime of dir only", []string{"app"}, chtimes("app/util"), false},
		{"mode", []string{"app"}, chmod("app/main.go", 0o755), true},
		{"setuid", []string{"app"}, chmod("app/main.go", 0o644|os.ModeSetuid), true},
		{"dir mode", []string{"app"}, chmod("app/util", 0o700), true},
		{"symlink target", []string{"app"}, relink("app/link", "util/u.go"), true},
		{"edit through followed symlink src", []string{"linkdir"}, writeFile("app/util/u.go", "package x"), true},
		{"wildcard: edit match", []string{"docs/*.md"}, writeFile("docs/a.md", "A"), true},
		{"wildcard: new match", []string{"docs/*.md"}, writeFile("docs/c.md", "c"), true},
		{"wildcard: edit non-match", []string{"docs/*.md"}, writeFile("notes.txt", "N"), false},
		{"root: edit anything", []string{"."}, writeFile("notes.txt", "N"), true},
		{"root: edit excluded", []string{"."}, writeFile("build/out.bin", "N"), false},
		{"root: mtime only", []string{"."}, chtimes("deep/x/y/z.txt"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, baseTree)
			s := openStore(t, t.TempDir())
			before := checksum(t, s, dir, tt.srcs, excludes)
			tt.edit(t, dir)
			after := checksum(t, s, dir, tt.srcs, excludes)
			if got := after != before; got != tt.changes {
				t.Errorf("digest changed: got %v, want %v", got, tt.changes)
			}
			// A fresh store (no stat cache) agrees.
			fresh := checksum(t, openStore(t, t.TempDir()), dir, tt.srcs, excludes)
			if fresh != after {
				t.Errorf("stat-cached digest %s, want %s as computed afresh", after, fresh)
			}
		})
	}
}

func writeFile(name, content string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func remove(name string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

func chtimes(name string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		when := time.Now().Add(-time.Hour)
		if err := os.Chtimes(filepath.Join(dir, name), when, when); err != nil {
			t.Fatal(err)
		}
	}
}

func chmod(name string, mode os.FileMode) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
			t.Fatal(err)
		}
	}
}

func relink(name, target string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		p := filepath.Join(dir, name)
		os.Remove(p)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
}

func TestChecksumContextSameContent(t *testing.T) {
	a, b := t.TempDir(), filepath.Join(t.TempDir(), "elsewhere")
	writeTree(t, a, baseTree)
	writeTree(t, b, baseTree)
	// Different owners and mtimes must not matter.
	old := time.Now().Add(-48 * time.Hour)
	filepath.Walk(b, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode()&os.ModeSymlink == 0 {
			os.Chtimes(p, old, old)
			os.Lchown(p, 1234, 1234)
		}
		return nil
	})
	s := openStore(t, t.TempDir())
	for _, srcs := range [][]string{{"."}, {"app", "docs/*.md"}, {"linkdir"}, {"/README.md"}} {
		if got, want := checksum(t, s, b, srcs, nil), checksum(t, s, a, srcs, nil); got != want {
			t.Errorf("%v: got %s, want %s", srcs, got, want)
		}
	}
	// But a different selection gives a different digest.
	if checksum(t, s, a, []string{"docs"}, nil) == checksum(t, s, a, []string{"app"}, nil) {
		t.Errorf("docs and app: got the same digest, want different")
	}
}

func TestChecksumContextSrcForms(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, baseTree)
	s := openStore(t, t.TempDir())
	want := checksum(t, s, dir, []string{"app"}, nil)
	for _, src := range []string{"app/", "/app", "./app", "app/.", "app/../app", "a*p", "ap?"} {
		if got := checksum(t, s, dir, []string{src}, nil); got != want && !strings.ContainsAny(src, "*?") {
			t.Errorf("%q: got %s, want %s (as for \"app\")", src, got, want)
		}
	}
	// A symlink src is followed: linkdir selects what app/util holds.
	if checksum(t, s, dir, []string{"linkdir"}, nil) == checksum(t, s, dir, []string{"linkdir"}, []string{"app/util/u.go"}) {
		t.Errorf("excluding the followed symlink's target: got the same digest, want different")
	}
}

func TestChecksumContextErrors(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, baseTree)
	s := openStore(t, t.TempDir())
	tests := []struct {
		srcs     []string
		excludes []string
		want     error
		msg      string
	}{
		{[]string{"missing"}, nil, ErrNotFound, `"missing" not found in build context`},
		{[]string{"app/", "nope/"}, nil, ErrNotFound, `"nope/" not found in build context`},
		{[]string{"*.go"}, nil, ErrNotFound, `"*.go" not found in build context`},
		{[]string{"docs/*.txt"}, nil, ErrNotFound, `"docs/*.txt" not found in build context`},
		{[]string{"app/secret.key"}, []string{"**/*.key"}, ErrNotFound, `"app/secret.key" not found in build context`},
		{[]string{"build"}, []string{"build"}, ErrNotFound, `"build" not found in build context`},
		{[]string{"linkdir"}, []string{"linkdir"}, ErrNotFound, `"linkdir" not found in build context`},
		{[]string{"README.md/x"}, nil, ErrNotFound, `"README.md/x" not found in build context`},
		{[]string{"../x"}, nil, ErrOutsideContext, `"../x"`},
		{[]string{"app/../../x"}, nil, ErrOutsideContext, `"app/../../x"`},
		{[]string{"escape"}, nil, ErrOutsideContext, `"escape"`},
		{[]string{"escape-abs"}, nil, ErrOutsideContext, `"escape-abs"`},
		{[]string{"esc*"}, nil, ErrOutsideContext, `"esc*"`},
		{[]string{"["}, nil, filepath.ErrBadPattern, `"["`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.srcs, ","), func(t *testing.T) {
			_, err := s.ChecksumContext(context.Background(), dir, tt.srcs, tt.excludes)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.want == ErrNotFound && err.Error() != tt.msg {
				t.Errorf("got %q, want %q", err, tt.msg)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got %q, want it to contain %s", err, tt.msg)
			}
			if strings.Contains(err.Error(), dir) {
				t.Errorf("got %q, want no absolute path in it", err)
			}
		})
	}
	// Symlinks inside a selected directory are not followed, so one that
	// points outside is harmless.
	writeTree(t, dir, map[string]string{"sub/out": "->../../../etc/passwd"})
	if _, err := s.ChecksumContext(context.Background(), dir, []string{"sub"}, nil); err != nil {
		t.Errorf("dir holding an escaping symlink: got %v, want nil", err)
	}
	// An absolute symlink into the context itself is fine.
	writeTree(t, dir, map[string]string{"abs-in": "->" + filepath.Join(dir, "docs")})
	if got, want := checksum(t, s, dir, []string{"abs-in"}, nil), checksum(t, s, dir, []string{"abs-in"}, nil); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestChecksumContextStatCache(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	for i := range 50 {
		files[fmt.Sprintf("d%d/f%d", i%5, i)] = fmt.Sprint("content ", i)
	}
	writeTree(t, dir, files)
	// Files younger than racyWindow are never cached (see fileStat.cacheable).
	time.Sleep(racyWindow + 50*time.Millisecond)

	root := t.TempDir()
	s := openStore(t, root)
	first := checksum(t, s, dir, []string{"."}, nil)
	if got := s.hashed.Load(); got != 50 {
		t.Fatalf("first call hashed %d files, want 50", got)
	}
	s.hashed.Store(0)
	if got := checksum(t, s, dir, []string{"."}, nil); got != first {
		t.Fatalf("second call: got %s, want %s", got, first)
	}
	if got := s.hashed.Load(); got != 0 {
		t.Errorf("second call hashed %d files, want 0", got)
	}

	// Persisted: a new Store on the same root reads nothing either.
	s.Close()
	s2 := openStore(t, root)
	if got := checksum(t, s2, dir, []string{"."}, nil); got != first {
		t.Fatalf("after reopen: got %s, want %s", got, first)
	}
	if got := s2.hashed.Load(); got != 0 {
		t.Errorf("after reopen hashed %d files, want 0", got)
	}

	// A touched file is read again (it is new, so not cached yet), and only it.
	writeFile("d1/f1", "changed")(t, dir)
	if checksum(t, s2, dir, []string{"."}, nil) == first {
		t.Errorf("after edit: got the same digest, want a new one")
	}
	if got := s2.hashed.Load(); got != 1 {
		t.Errorf("after edit hashed %d files, want 1", got)
	}
}

// TestChecksumContextRacy rewrites a file with the same size right after
// hashing it: its stat may be unchanged at timestamp granularity, so it must
// not have been cached.
func TestChecksumContextRacy(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, t.TempDir())
	for i := range 20 {
		writeFile("f", fmt.Sprintf("v%02d", i))(t, dir)
		want := digest.FromString(fmt.Sprintf("v%02d", i))
		checksum(t, s, dir, []string{"f"}, nil)
		sc := s.statCache(dir)
		sc.mu.Lock()
		e, ok := sc.entries["f"]
		sc.mu.Unlock()
		if ok && e.Digest == want {
			t.Fatalf("a file written %v ago was cached", time.Since(time.Unix(0, e.Mtime)))
		}
	}
}

func TestChecksumContextConcurrent(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, baseTree)
	s := openStore(t, t.TempDir())
	want := checksum(t, openStore(t, t.TempDir()), dir, []string{"."}, nil)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			d, err := s.ChecksumContext(context.Background(), dir, []string{"."}, nil)
			if err == nil && d != want {
				err = fmt.Errorf("got %s, want %s", d, want)
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestChecksumContextCanceled(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, baseTree)
	s := openStore(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.ChecksumContext(ctx, dir, []string{"."}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

// BenchmarkChecksumContext reports a cold call (every file read) and a warm
// one (stat cache hits) over 20,000 files of 1 KiB.
func BenchmarkChecksumContext(b *testing.B) {
	dir := b.TempDir()
	content := strings.Repeat("k", 1024)
	for i := range 20000 {
		p := filepath.Join(dir, fmt.Sprintf("d%03d", i%200), fmt.Sprintf("f%05d", i))
		if i < 200 {
			os.MkdirAll(filepath.Dir(p), 0o755)
		}
		if err := os.WriteFile(p, []byte(content+fmt.Sprint(i)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(racyWindow)
	ctx := context.Background()
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			s, err := Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if _, err := s.ChecksumContext(ctx, dir, []string{"."}, nil); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			s.Close()
			b.StartTimer()
		}
	})
	b.Run("warm", func(b *testing.B) {
		s, err := Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		if _, err := s.ChecksumContext(ctx, dir, []string{"."}, nil); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := s.ChecksumContext(ctx, dir, []string{"."}, nil); err != nil {
				b.Fatal(err)
			}
		}
		if n := s.hashed.Load(); n != 20000 {
			b.Errorf("hashed %d files, want 20000 (the first call only)", n)
		}
	})
}

// selected lists the paths ChecksumContext would hash for src.
func selected(t *testing.T, dir, src string, excludes []string) string {
	t.Helper()
	pm, err := patternmatcher.New(excludes)
	if err != nil {
		t.Fatal(err)
	}
	w := &ctxWalk{ctx: context.Background(), root: dir, realRoot: dir, pm: pm, files: map[string]*fileJob{}}
	_, es, err := w.selectSrc(src)
	if err != nil {
		return "error: " + err.Error()
	}
	var paths []string
	for _, e := range es {
		paths = append(paths, e.path)
	}
	return strings.Join(paths, " ")
}

func TestChecksumContextSelection(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"a/x.go":        "x",
		"a/y.txt":       "y",
		"a/b/z.go":      "z",
		"a/l":           "->b",
		"nm/m/index.js": "m",
		"nm/README.md":  "r",
		"README.md":     "r",
		"c/x.go":        "x",
		"to-a":          "->a",
		"dot/.hidden":   "h",
	})
	tests := []struct {
		src      string
		excludes []string
		want     string
	}{
		{"a", nil, "a a/b a/b/z.go a/l a/x.go a/y.txt"},
		{"a/l", nil, "a/l a/l/z.go"}, // a src symlink is followed
		{"to-a", []string{"a/y.txt"}, "to-a to-a/b to-a/b/z.go to-a/l to-a/x.go"},
		{"*/x.go", nil, "a/x.go c/x.go"},
		{"a/*", nil, "a/b a/b/z.go a/l a/l/z.go a/x.go a/y.txt"},
		{"*", []string{"nm", "a", "c", "to-a", "dot"}, "README.md"},
		{"a", []string{"**/*.go"}, "a a/b a/l a/y.txt"},
		{"a", []string{"a", "!a/b"}, "a a/b a/b/z.go"},
		{"nm", []string{"nm", "!nm/README.md"}, "nm nm/README.md"},
		{"nm", []string{"nm", "!README.md"}, `error: "nm" not found in build context`},
		{".", []string{"*", "!dot"}, ". dot dot/.hidden"},
		{"dot", []string{"dot/.*"}, "dot"},
	}
	for _, tt := range tests {
		t.Run(tt.src+" "+strings.Join(tt.excludes, ","), func(t *testing.T) {
			if got := selected(t, dir, tt.src, tt.excludes); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
