package cache

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// FuzzDockerignore feeds fuzzed .dockerignore files through the path kiln
// build takes (ignorefile.ReadAll, then ChecksumContext over the whole
// context) and checks what must hold whatever the patterns: no panic, the
// same digest twice, and an edit to a file the patterns exclude never
// changes the digest (an excluded file does not exist for the build).
func FuzzDockerignore(f *testing.F) {
	for _, seed := range []string{
		"",
		"*.key\nbuild\n!build/keep.txt\n",
		"# comment\n\n**/*.md\n!docs/a.md\n",
		"/app/../app/secret.key\n",
		"../outside\n/etc/passwd\n",
		"*\n!app\n!app/**\n",
		"[a-\n",
		"\\\n!\n!!x\n",
		"app/**/u.go\nlinkdir\n",
		"\x00\xff\n./\n.\n",
	} {
		f.Add(seed, "app/secret.key")
		f.Add(seed, "build/out.bin")
	}
	dir := f.TempDir()
	writeTree(f, dir, baseTree)
	s, err := Open(filepath.Join(f.TempDir(), "store"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	files := []string{"app/main.go", "app/util/u.go", "app/secret.key", "README.md", "notes.txt",
		"docs/a.md", "docs/b.md", "build/out.bin", "build/keep.txt", "deep/x/y/z.txt", "node_modules/m"}

	f.Fuzz(func(t *testing.T, ignore string, victim string) {
		patterns, err := ignorefile.ReadAll(strings.NewReader(ignore))
		if err != nil {
			return
		}
		pm, err := patternmatcher.New(patterns)
		if err != nil {
			return
		}
		ctx := context.Background()
		d1, err := s.ChecksumContext(ctx, dir, []string{"."}, patterns)
		if err != nil {
			// Everything excluded, or a pattern patternmatcher refuses
			// at match time: an error, never a panic.
			return
		}
		d2, err := s.ChecksumContext(ctx, dir, []string{"."}, patterns)
		if err != nil || d2 != d1 {
			t.Fatalf("second checksum: got %s, %v; want %s", d2, err, d1)
		}
		// Pick the file to edit among the context's own, so the tree
		// stays as the seeds describe it.
		name := files[len(victim)%len(files)]
		excluded, err := pm.MatchesOrParentMatches(name)
		if err != nil || !excluded {
			return
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		old, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, append(old, 'x'), 0o644); err != nil {
			t.Fatal(err)
		}
		d3, err := s.ChecksumContext(ctx, dir, []string{"."}, patterns)
		if werr := os.WriteFile(p, old, 0o644); werr != nil {
			t.Fatal(werr)
		}
		if err != nil {
			t.Fatalf("checksum after editing excluded %s: %v", name, err)
		}
		if d3 != d1 {
			t.Fatalf("editing excluded %s (patterns %q): got digest %s, want unchanged %s", name, patterns, d3, d1)
		}
	})
}
