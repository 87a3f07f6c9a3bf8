package executor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/internal/testutil"
)

func TestMain(m *testing.M) {
	MaybeInit()
	os.Exit(m.Run())
}

// busybox builds a busybox rootfs layer in a temp dir: bin/busybox, a
// symlink per applet, and etc/passwd and etc/group with a few users.
func busybox(t *testing.T) string {
	t.Helper()
	testutil.RequireOverlay(t)
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs a static /bin/busybox for the test rootfs")
	}
	dir := filepath.Join(t.TempDir(), "busybox")
	for _, d := range []string{"bin", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(dir, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n"+
		"alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"+
		"bob:x:1001:1001::/home/bob:/bin/sh\n"+
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
	write(t, filepath.Join(dir, "etc/group"), "root:x:0:\nwheel:x:10:alice\nstaff:x:50:bob,alice\n"+
		"alice:x:1000:\nbob:x:1001:\nnogroup:x:65534:\n")
	return dir
}

func write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// rootfs returns a Rootfs over lower with fresh upper and work dirs.
func rootfs(t *testing.T, lower ...string) Rootfs {
	t.Helper()
	dir := t.TempDir()
	r := Rootfs{Lower: lower, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work")}
	for _, d := range []string{r.Upper, r.Work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return r
}
