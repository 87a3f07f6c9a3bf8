package testutil

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/kiln-build/kiln/internal/tartest"
)

// Stop leaves nothing of the engine behind, whether dockerd shuts down
// cleanly or was killed with a container running under it: no process, no
// mount, no file.
func TestDockerdStop(t *testing.T) {
	RequireRoot(t)
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skipf("needs a static busybox for an image (apt-get install busybox-static): %v", err)
	}
	bin := tartest.File("bin/busybox", string(busybox))
	bin.Header.Mode = 0o755
	rootfs := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(rootfs, tartest.Build(t, tartest.Dir("bin/"), bin), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name string
		kill bool
	}{
		{"sigterm", false},
		{"dockerd-killed", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := StartDockerd("")
			if errors.Is(err, ErrNoDockerd) {
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Stop() })
			if _, err := d.Run("import", rootfs, "bb"); err != nil {
				t.Fatal(err)
			}
			out, err := d.Run("run", "-d", "--network", "none", "--stop-timeout", "1", "bb", "/bin/busybox", "sleep", "300")
			if err != nil {
				t.Fatal(err)
			}
			ids := []string{strings.TrimSpace(string(out))}
			if left := d.leftovers(ids); len(left) < 2 {
				t.Fatalf("before Stop: got processes %v, want at least the container's and its shim", left)
			}
			if c.kill {
				d.proc.Signal(syscall.SIGKILL)
				<-d.done
			}
			if err := d.Stop(); err != nil {
				t.Errorf("Stop: %v", err)
			}
			if left := d.leftovers(ids); len(left) != 0 {
				t.Errorf("after Stop: got processes %v, want none", left)
			}
			runtime.LockOSThread()
			mounts, err := mountsUnder(d.Dir)
			runtime.UnlockOSThread()
			if err != nil {
				t.Fatal(err)
			}
			if len(mounts) != 0 {
				t.Errorf("after Stop: got mounts %v, want none", mounts)
			}
			if _, err := os.Stat(d.Dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("after Stop: stat %s: got %v, want it gone", d.Dir, err)
			}
		})
	}
}
