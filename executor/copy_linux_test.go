package executor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// context builds a build context: a.txt, b.txt, x.secret, dir/{sub/f,link},
// exec (setuid), hard links h1 and h2, with non-root owners and an old mtime.
func buildContext(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ctx")
	write(t, filepath.Join(dir, "a.txt"), "a")
	write(t, filepath.Join(dir, "b.txt"), "b")
	write(t, filepath.Join(dir, "x.secret"), "secret")
	write(t, filepath.Join(dir, "dir/sub/f"), "f")
	write(t, filepath.Join(dir, "dir/ignored"), "ignored")
	write(t, filepath.Join(dir, "exec"), "#!/bin/sh\n")
	write(t, filepath.Join(dir, "h1"), "hard")
	must(t, os.Link(filepath.Join(dir, "h1"), filepath.Join(dir, "h2")))
	must(t, os.Symlink("sub/f", filepath.Join(dir, "dir/link")))
	must(t, os.Symlink("a.txt", filepath.Join(dir, "alink")))
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	must(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, 1234, 1234); err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			return os.Chtimes(p, old, old)
		}
		return nil
	}))
	// After the chown, which clears setuid.
	must(t, syscall.Chmod(filepath.Join(dir, "exec"), 0o4755))
	must(t, os.Chmod(filepath.Join(dir, "dir/sub"), 0o750))
	return dir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func doCopy(t *testing.T, c CopySpec) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return New().Copy(ctx, c)
}

func mustCopy(t *testing.T, c CopySpec) {
	t.Helper()
	if err := doCopy(t, c); err != nil {
		t.Fatalf("copy %v to %s: %v", c.Src, c.DestPath, err)
	}
}

func stat(t *testing.T, p string) *syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatalf("stat %s: %v", p, err)
	}
	return &st
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCopyFileToDir(t *testing.T) {
	base, ctx := busybox(t), buildContext(t)
	rfs := rootfs(t, base)
	mustCopy(t, CopySpec{Dest: rfs, SrcDir: ctx, Src: []string{"/a.txt", "./exec"}, DestPath: "/dst/"})
	p := filepath.Join(rfs.Upper, "dst/a.txt")
	if got := readFile(t, p); got != "a" {
		t.Errorf("got %q, want %q", got, "a")
	}
	st := stat(t, p)
	if st.Uid != 0 || st.Gid != 0 {
		t.Errorf("got owner %d:%d, want 0:0 from a build context", st.Uid, st.Gid)
	}
	if want := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC).Unix(); st.Mtim.Sec != want {
		t.Errorf("got mtime %d, want %d", st.Mtim.Sec, want)
	}
	if m := stat(t, filepath.Join(rfs.Upper, "dst/exec")).Mode & 0o7777; m != 0o4755 {
		t.Errorf("got mode %o, want 4755", m)
	}
	if st := stat(t, filepath.Join(rfs.Upper, "dst")); st.Mode&0o7777 != 0o755 {
		t.Errorf("got created parent mode %o, want 755", st.Mode&0o7777)
	}
}

func TestCopyFileToName(t *testing.T) {
	base, ctx := busybox(t), buildContext(t)
	rfs := rootfs(t, base)
	mustCopy(t, CopySpec{Dest: rfs, SrcDir: ctx, Src: []string{"a.txt"}, DestPath: "/new/name.txt"})
	if got := readFile(t, filepath.Join(rfs.Upper, "new/name.txt")); got != "a" {
		t.Errorf("got %q, want %q", got, "a")
	}
	// Onto an existing directory, without a trailing slash.
	mustCopy(t, CopySpec{Dest: rfs, SrcDir: ctx, Src: []string{"b.txt"}, DestPath: "/etc"})
	if got := readFile(t, filepath.Join(rfs.Upper, "etc/b.txt")); got != "b" {
		t.Errorf("got %q, want %q", got, "b")
	}
	// A symlink source is followed; the name is the link's.
	mustCopy(t, CopySpec{Dest: rfs, SrcDir: ctx, Src: []string{"alink"}, DestPath: "/l/"})
	if fi, err := os.Lstat(filepath.Join(rfs.Upper, "l/alink")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("got %v, %v, want a regular file l/alink", fi, err)
	}
}

func TestCopyReplacesLowerFile(t *testing.T) {
	base, ctx := busybox(t), buildContext(t)
	rfs := rootfs(t, base)
	mustCopy(t, CopySpec{Dest: rfs, SrcDir: ctx, Src: []string{"a.txt"}, DestPath: "/etc/passwd"})
	if got := readFile(t, filepath.Join(rfs.Upper, "etc/passwd")); got != "a" {
		t.Errorf("got %q, want %q", got, "a")
	}
	if got := readFile(t, filepath.Join(base, "etc/passwd")); got == "a" {
		t.Error("the lower layer changed")
	}
}

func TestCopyDirContents(t *testing.T) {
	base, ctx := busybox(t), buildContext(t)
	rfs := rootfs(t, base)
	mustCopy(t, CopySpec{Dest: rfs, SrcDir: ctx, Src: []string{"dir"}, DestPath: "/d"})
	if got := readFile(t, filepath.Join(rfs.Upper, "d/sub/f")); got != "f" {
		t.Errorf("got %q, want %q", got, "f")
	}
	if target, err := os.Readlink(filepath.Join(rfs.Upper, "d/link")); err != nil || target != "sub/f" {
		t.Errorf("got %q, %v, want the symlink copied as a symlink", target, err)
	}
	if m := stat(t, filepath.Join(rfs.Upper, "d/sub")).Mode & 0o7777; m != 0o750 {
		t.Errorf("got mode %o, want 750", m)
	}
	if st := stat(t, filepath.Join(rfs.Upper, "d/sub")); st.Mtim.Sec != time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC).Unix() {
		t.Errorf("got dir mtime %d, want the source's", st.Mtim.Sec)
	}
	// A second copy merges into the existing directory.
	mustCopy(t, CopySpec{Dest: rfs, SrcDir: ctx, Src: []string{"a.txt"}, DestPath: "/d/sub/"})
	if _, err := os.Stat(filepath.Join(rfs.Upper, "d/sub/f")); err != nil {
		t.Errorf("merge lost d/sub/f: %v", err)
	}
}

func TestCopyHardLinks(t *testing.T) {
	base, ctx := busybox(t), buildContext(t)
	rfs := rootfs(t, base)
	mustCopy(t, CopySpec{Dest: rfs, SrcDir: ctx, Src: []string{"h1", "h2"}, DestPath: "/h/"})
	if a, b := stat(t, filepath.Join(rfs.Upper, "h/h1")), stat(t, filepath.Join(rfs.Upper, "h/h2")); a.Ino != b.Ino {
		t.Errorf("got inodes %d and %d, want one hard-linked file", a.Ino, b.Ino)
	}
}

func TestCopyWildcard(t *testing.T) {
	base, ctx := busybox(t), buildContext(t)
	rfs := rootfs(t, base)
	mustCopy(t, CopySpec{Dest: rfs, SrcDir: ctx, Src: []string{"*.txt"}, DestPath: "/w"})
	for _, f := range []string{"a.txt", "b.txt"} {
		if _, err := os.Stat(filepath.Join(rfs.Upper, "w", f)); err != nil {
			t.Errorf("missing w/%s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(rfs.Upper, "w/x.secret")); err == nil {
		t.Error("x.secret copied by *.txt")
	}
}

func TestCopyNotFound(t *testing.T) {
	base, ctx := busybox(t), buildContext(t)
	for _, tc := range []struct {
		c    CopySpec
		want string
	}{
		{CopySpec{SrcDir: ctx, Src: []string{"app/"}}, `"app/" not found in build context`},
		{CopySpec{SrcDir: ctx, Src: []string{"*.go"}}, `"*.go" not found in build context`},
		{CopySpec{SrcLower: []string{base}, Src: []string{"/nope"}}, `"/nope" not found`},
		{CopySpec{SrcDir: ctx, Src: []string{"x.secret"}, Excludes: []string{"*.secret"}}, `"x.secret" not found in build context`},
	} {
		tc.c.Dest, tc.c.DestPath = rootfs(t, base), "/x/"
		err := doCopy(t, tc.c)
		if !errors.Is(err, ErrNotFound) || err.Error() != tc.want {
			t.Errorf("got %v, want %q wrapping ErrNotFound", err, tc.want)
		}
	}
	err := doCopy(t, CopySpec{Dest: rootfs(t, base), SrcDir: ctx, Src: []string{"../etc/passwd"}, DestPath: "/x"})
	if err == nil {
		t.Error("a source outside the context was accepted")
	}
}

func TestCopyChown(t *testing.T) {
	base, ctx := busybox(t), buildContext(t)
	for _, tc := range []struct {
		chown    string
		uid, gid uint32
	}{
		{"alice", 1000, 1000},
		{"alice:staff", 1000, 50},
		{"1234", 1234, 1234},
		{"1234:55", 1234, 55},
		{"bob:10", 1001, 10},
	} {
		t.Run(tc.chown, func(t *testing.T) {
			rfs := rootfs(t, base)
			mustCopy(t, CopySpec{Dest: rfs, SrcDir: ctx, Src: []string{"dir"}, DestPath: "/p/q/", Chown: tc.chown})
			for _, p := range []string{"p", "p/q", "p/q/sub", "p/q/sub/f", "p/q/link"} {
				if st := stat(t, filepath.Join(rfs.Upper, p)); st.Uid != tc.uid || st.Gid != tc.gid {
					t.Errorf("%s: got %d:%d, want %d:%d", p, st.Uid, st.Gid, tc.uid, tc.gid)
				}
			}
		})
	}
	err := doCopy(t, CopySpec{Dest: rootfs(t, base), SrcDir: ctx, Src: []string{"a.txt"}, DestPath: "/x", Chown: "mallory"})
	if !errors.Is(err, ErrUnknownUser) || !strings.Contains(err.Error(), `"mallory"`) {
		t.Errorf("got %v, want ErrUnknownUser naming mallory", err)
	}
}

func TestCopyChmod(t *testing.T) {
	base, ctx := busybox(t), buildContext(t)
	rfs := rootfs(t, base)
	mustCopy(t, CopySpec{Dest: rfs, SrcDir: ctx, Src: []string{"dir", "exec"}, DestPath: "/m/", Chmod: "0741"})
	for _, p := range []string{"m/sub", "m/sub/f", "m/exec"} {
		if m := stat(t, filepath.Join(rfs.Upper, p)).Mode & 0o7777; m != 0o741 {
			t.Errorf("%s: got mode %o, want 741", p, m)
		}
	}
	err := doCopy(t, CopySpec{Dest: rfs, SrcDir: ctx, Src: []string{"a.txt"}, DestPath: "/x", Chmod: "999"})
	if !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("got %v, want ErrInvalidSpec", err)
	}
}

// Destination paths are resolved inside the image: /bin -> usr/bin is
// followed, links to / or ../../.. stay in the rootfs.
func TestCopyDestSymlinks(t *testing.T) {
	base, ctx := busybox(t), buildContext(t)
	img := filepath.Join(t.TempDir(), "img")
	must(t, os.MkdirAll(filepath.Join(img, "usr/bin"), 0o755))
	must(t, os.Symlink("usr/bin", filepath.Join(img, "bin")))
	must(t, os.Symlink("/", filepath.Join(img, "escape")))
	must(t, os.Symlink("../../..", filepath.Join(img, "up")))
	host := t.TempDir() // a host directory an absolute link names
	must(t, os.Symlink(host, filepath.Join(img, "hostlink")))
	rfs := rootfs(t, base, img)
	mustCopy(t, CopySpec{Dest: rfs, SrcDir: ctx, Src: []string{"a.txt"}, DestPath: "/bin/"})
	if _, err := os.Stat(filepath.Join(rfs.Upper, "usr/bin/a.txt")); err != nil {
		t.Errorf("want usr/bin/a.txt in upper: %v", err)
	}
	name := "kiln-escape-" + filepath.Base(host)
	for _, dest := range []string{"/escape/" + name, "/up/" + name, "/hostlink/" + name} {
		mustCopy(t, CopySpec{Dest: rfs, SrcDir: ctx, Src: []string{"a.txt"}, DestPath: dest})
	}
	for _, p := range []string{filepath.Join(rfs.Upper, name), filepath.Join(rfs.Upper, host, name)} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("want %s inside the rootfs: %v", p, err)
		}
	}
	for _, p := range []string{"/" + name, filepath.Join(host, name)} {
		if _, err := os.Lstat(p); err == nil {
			os.Remove(p)
			t.Errorf("%s written on the host", p)
		}
	}
}

func TestCopyExcludes(t *testing.T) {
	base, ctx := busybox(t), buildContext(t)
	rfs := rootfs(t, base)
	mustCopy(t, CopySpec{Dest: rfs, SrcDir: ctx, Src: []string{"."}, DestPath: "/ctx/", Excludes: []string{"*.secret", "dir/ignored", "dir/sub", "!dir/sub/f"}})
	for _, p := range []string{"ctx/a.txt", "ctx/dir/link", "ctx/dir/sub/f"} {
		if _, err := os.Lstat(filepath.Join(rfs.Upper, p)); err != nil {
			t.Errorf("want %s: %v", p, err)
		}
	}
	for _, p := range []string{"ctx/x.secret", "ctx/dir/ignored"} {
		if _, err := os.Lstat(filepath.Join(rfs.Upper, p)); err == nil {
			t.Errorf("excluded %s was copied", p)
		}
	}
}

// A source from another layer stack: whiteouts hide files, owners are kept.
func TestCopyFromLayers(t *testing.T) {
	base := busybox(t)
	l1, l2 := filepath.Join(t.TempDir(), "l1"), filepath.Join(t.TempDir(), "l2")
	write(t, filepath.Join(l1, "app/f1"), "one")
	write(t, filepath.Join(l1, "app/gone"), "gone")
	must(t, os.Lchown(filepath.Join(l1, "app/f1"), 1234, 5678))
	write(t, filepath.Join(l2, "app/f2"), "two")
	must(t, syscall.Mknod(filepath.Join(l2, "app/gone"), syscall.S_IFCHR|0o600, 0))
	for name, lower := range map[string][]string{"two layers": {l1, l2}, "one layer": {l1}} {
		t.Run(name, func(t *testing.T) {
			rfs := rootfs(t, base)
			mustCopy(t, CopySpec{Dest: rfs, SrcLower: lower, Src: []string{"/app"}, DestPath: "/app"})
			if st := stat(t, filepath.Join(rfs.Upper, "app/f1")); st.Uid != 1234 || st.Gid != 5678 {
				t.Errorf("got owner %d:%d, want 1234:5678", st.Uid, st.Gid)
			}
			_, err := os.Lstat(filepath.Join(rfs.Upper, "app/f2"))
			if len(lower) == 2 && err != nil {
				t.Errorf("want app/f2: %v", err)
			}
			_, err = os.Lstat(filepath.Join(rfs.Upper, "app/gone"))
			if len(lower) == 2 && err == nil {
				t.Error("a whited-out file was copied")
			}
		})
	}
	// A single layer's whiteouts are skipped, not copied as devices.
	rfs := rootfs(t, base)
	mustCopy(t, CopySpec{Dest: rfs, SrcLower: []string{l2}, Src: []string{"/app"}, DestPath: "/app"})
	if _, err := os.Lstat(filepath.Join(rfs.Upper, "app/gone")); err == nil {
		t.Error("a whiteout was copied as a device")
	}
}
