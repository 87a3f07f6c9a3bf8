package executor

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/kiln-build/kiln/internal/tartest"
)

func compress(t *testing.T, kind string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch kind {
	case "plain":
		return b
	case "gzip":
		return tartest.Gzip(t, b)
	case "xz":
		w, err := xz.NewWriter(&buf)
		must(t, err)
		_, err = w.Write(b)
		must(t, err)
		must(t, w.Close())
	case "zstd":
		w, err := zstd.NewWriter(&buf)
		must(t, err)
		_, err = w.Write(b)
		must(t, err)
		must(t, w.Close())
	case "bzip2":
		// The standard library reads bzip2 but cannot write it.
		if _, err := exec.LookPath("bzip2"); err != nil {
			t.Skip("needs bzip2 to make a test archive")
		}
		cmd := exec.Command("bzip2", "-c")
		cmd.Stdin = bytes.NewReader(b)
		out, err := cmd.Output()
		must(t, err)
		return out
	}
	return buf.Bytes()
}

func TestAddExtractsArchives(t *testing.T) {
	base := busybox(t)
	archive := tartest.Build(t,
		tartest.Dir("d/"),
		tartest.File("d/f", "content"),
		tartest.Symlink("d/l", "f"),
		tartest.Link("d/h", "d/f"),
		tartest.File("d/.wh.x", "plain file"),
		tartest.File("/abs", "leading slash stripped"),
	)
	for _, kind := range []string{"plain", "gzip", "bzip2", "xz", "zstd"} {
		t.Run(kind, func(t *testing.T) {
			ctx := t.TempDir()
			// A misleading name: the magic bytes decide.
			must(t, os.WriteFile(filepath.Join(ctx, "archive.bin"), compress(t, kind, archive), 0o644))
			rfs := rootfs(t, base)
			mustCopy(t, CopySpec{Dest: rfs, SrcDir: ctx, Src: []string{"archive.bin"}, DestPath: "/x", Extract: true})
			up := filepath.Join(rfs.Upper, "x")
			if got := readFile(t, filepath.Join(up, "d/f")); got != "content" {
				t.Errorf("got d/f %q, want %q", got, "content")
			}
			if got, _ := os.Readlink(filepath.Join(up, "d/l")); got != "f" {
				t.Errorf("got symlink d/l → %q, want f", got)
			}
			if a, b := stat(t, filepath.Join(up, "d/f")), stat(t, filepath.Join(up, "d/h")); a.Ino != b.Ino {
				t.Errorf("got d/h a copy, want a hard link to d/f")
			}
			if got := readFile(t, filepath.Join(up, "d/.wh.x")); got != "plain file" {
				t.Errorf("got d/.wh.x %q, want a plain file", got)
			}
			if got := readFile(t, filepath.Join(up, "abs")); got != "leading slash stripped" {
				t.Errorf("got abs %q, want it under /x", got)
			}
			if st := stat(t, filepath.Join(up, "d/f")); st.Mtim.Sec != tartest.Epoch.Unix() || st.Mode&0o777 != 0o644 {
				t.Errorf("got mtime %d mode %o, want %d 644", st.Mtim.Sec, st.Mode&0o777, tartest.Epoch.Unix())
			}
		})
	}
}

func TestAddNonArchiveIsCopied(t *testing.T) {
	base := busybox(t)
	ctx := t.TempDir()
	// gzip magic but no gzip stream, and a short file.
	must(t, os.WriteFile(filepath.Join(ctx, "fake.tar.gz"), []byte{0x1f, 0x8b, 'x'}, 0o644))
	must(t, os.WriteFile(filepath.Join(ctx, "short.tar"), []byte("hi"), 0o644))
	rfs := rootfs(t, base)
	mustCopy(t, CopySpec{Dest: rfs, SrcDir: ctx, Src: []string{"fake.tar.gz", "short.tar"}, DestPath: "/x/", Extract: true})
	for _, n := range []string{"fake.tar.gz", "short.tar"} {
		if _, err := os.Stat(filepath.Join(rfs.Upper, "x", n)); err != nil {
			t.Errorf("got %v, want %s copied as a file", err, n)
		}
	}
}

func TestAddArchiveTraversalRefused(t *testing.T) {
	base := busybox(t)
	outside := t.TempDir()
	tests := []struct {
		name    string
		entries []tartest.Entry
	}{
		{"dotdot", []tartest.Entry{tartest.File("../../../../../../../.."+outside+"/pwned", "x")}},
		{"dotdot inside", []tartest.Entry{tartest.File("a/../../pwned", "x")}},
		{"hard link out", []tartest.Entry{tartest.Link("h", "../../etc/passwd")}},
		{"symlink then through it", []tartest.Entry{tartest.Symlink("s", outside), tartest.File("s/pwned", "x")}},
		{"absolute symlink dir", []tartest.Entry{tartest.Symlink("s", "/"), tartest.File("s/"+strings.TrimPrefix(outside, "/")+"/pwned", "x")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.TempDir()
			must(t, os.WriteFile(filepath.Join(ctx, "a.tar"), tartest.Build(t, tt.entries...), 0o644))
			rfs := rootfs(t, base)
			_ = doCopy(t, CopySpec{Dest: rfs, SrcDir: ctx, Src: []string{"a.tar"}, DestPath: "/x/", Extract: true})
			if names, _ := readDirNames(outside); len(names) != 0 {
				t.Errorf("got %v outside the rootfs, want nothing", names)
			}
		})
	}
	// ".." entries are refused outright, naming the entry.
	ctx := t.TempDir()
	must(t, os.WriteFile(filepath.Join(ctx, "a.tar"), tartest.Build(t, tartest.File("../x", "x")), 0o644))
	err := doCopy(t, CopySpec{Dest: rootfs(t, base), SrcDir: ctx, Src: []string{"a.tar"}, DestPath: "/x/", Extract: true})
	if err == nil || !strings.Contains(err.Error(), `"../x"`) {
		t.Errorf("got %v, want an error naming \"../x\"", err)
	}
}

func TestAddArchiveChownAndMerge(t *testing.T) {
	base := busybox(t)
	write(t, filepath.Join(base, "x/keep"), "kept")
	ctx := t.TempDir()
	hdr := tartest.File("new", "n")
	hdr.Header.Uid, hdr.Header.Gid = 42, 43
	must(t, os.WriteFile(filepath.Join(ctx, "a.tar"), tartest.Build(t, hdr), 0o644))
	rfs := rootfs(t, base)
	mustCopy(t, CopySpec{Dest: rfs, SrcDir: ctx, Src: []string{"a.tar"}, DestPath: "/x/", Extract: true})
	if st := stat(t, filepath.Join(rfs.Upper, "x/new")); st.Uid != 42 || st.Gid != 43 {
		t.Errorf("got owner %d:%d, want the archive's 42:43", st.Uid, st.Gid)
	}
	rfs = rootfs(t, base)
	mustCopy(t, CopySpec{Dest: rfs, SrcDir: ctx, Src: []string{"a.tar"}, DestPath: "/x/", Extract: true, Chown: "alice"})
	if st := stat(t, filepath.Join(rfs.Upper, "x/new")); st.Uid != 1000 {
		t.Errorf("got owner %d, want alice (1000)", st.Uid)
	}
	if _, err := os.Lstat(filepath.Join(rfs.Upper, "x/keep")); err == nil {
		t.Errorf("got x/keep copied up, want the image's file untouched")
	}
}

func TestCopyExcludeParentsLink(t *testing.T) {
	base := busybox(t)
	ctx := t.TempDir()
	for _, f := range []string{"a/x.txt", "a/x.md", "a/sub/y.md", "b/x.txt", "top.md"} {
		write(t, filepath.Join(ctx, f), f)
	}
	tests := []struct {
		name string
		spec CopySpec
		want []string
	}{
		{"exclude in a dir", CopySpec{Src: []string{"a"}, DestPath: "/d/", Exclude: []string{"*.md"}}, []string{"d", "d/sub", "d/sub/y.md", "d/x.txt"}},
		{"exclude nested", CopySpec{Src: []string{"a"}, DestPath: "/d/", Exclude: []string{"**/*.md"}}, []string{"d", "d/sub", "d/x.txt"}},
		{"exclude a file source", CopySpec{Src: []string{"*.md", "a/x.txt"}, DestPath: "/d/", Exclude: []string{"top.md"}}, []string{"d", "d/x.txt"}},
		{"exclude with exception", CopySpec{Src: []string{"a"}, DestPath: "/d/", Exclude: []string{"*", "!x.md"}}, []string{"d", "d/x.md"}},
		{"parents", CopySpec{Src: []string{"a/x.txt", "b/x.txt"}, DestPath: "/p", Parents: true}, []string{"p", "p/a", "p/a/x.txt", "p/b", "p/b/x.txt"}},
		{"parents glob", CopySpec{Src: []string{"*/x.txt"}, DestPath: "/p/", Parents: true}, []string{"p", "p/a", "p/a/x.txt", "p/b", "p/b/x.txt"}},
		{"parents pivot", CopySpec{Src: []string{"a/./sub/y.md"}, DestPath: "/p/", Parents: true}, []string{"p", "p/sub", "p/sub/y.md"}},
		{"parents dir", CopySpec{Src: []string{"a/sub"}, DestPath: "/p/", Parents: true}, []string{"p", "p/a", "p/a/sub", "p/a/sub/y.md"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.spec
			c.Dest, c.SrcDir = rootfs(t, base), ctx
			mustCopy(t, c)
			got := strings.Join(upperEntries(t, c.Dest.Upper), " ")
			if want := strings.Join(tt.want, " "); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

// COPY --link: the destination is empty, chown names come from the image.
func TestCopyLinkUsersFrom(t *testing.T) {
	base := busybox(t)
	ctx := t.TempDir()
	write(t, filepath.Join(ctx, "f"), "f")
	c := CopySpec{Dest: rootfs(t), UsersFrom: []string{base}, SrcDir: ctx, Src: []string{"f"}, DestPath: "/bin/f", Chown: "bob"}
	mustCopy(t, c)
	if st := stat(t, filepath.Join(c.Dest.Upper, "bin/f")); st.Uid != 1001 {
		t.Errorf("got owner %d, want bob (1001)", st.Uid)
	}
}
