package executor

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// inPrivateMountNS runs fn on a thread of its own in a private mount
// namespace; the thread is never reused (it exits with the goroutine).
func inPrivateMountNS(t *testing.T, fn func() error) error {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a mount namespace")
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with us
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			errc <- err
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// TestMountTargetSwap is the CVE-2021-30465 race, made deterministic: a
// component of a mount target, or the parent of a stub, is swapped for a
// symlink to a host directory after the target was resolved. The mount and
// the stub must land inside the rootfs, never on the host directory.
func TestMountTargetSwap(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(st *stubs, root, host string) error
	}{
		{"mount after swap", func(st *stubs, root, host string) error {
			target, err := st.ensure("/c/sub", true)
			if err != nil {
				return err
			}
			swap(t, root, host)
			_ = st.mountOnto("tmpfs", target, "tmpfs", 0, "")
			return nil
		}},
		{"remount after swap", func(st *stubs, root, host string) error {
			target, err := st.ensure("/c/sub", true)
			if err != nil {
				return err
			}
			if err := st.mountOnto("tmpfs", target, "tmpfs", 0, ""); err != nil {
				return err
			}
			swap(t, root, host)
			_ = st.remountOnto(target, unix.MS_BIND|unix.MS_RDONLY)
			return nil
		}},
		{"stub after swap", func(st *stubs, root, host string) error {
			if _, err := st.ensure("/c/sub", true); err != nil {
				return err
			}
			swap(t, root, host)
			_ = createInRoot(root, "c/new-dir", true)
			_ = createInRoot(root, "c/new-file", false)
			_ = createInRoot(root, "c/sub2/deeper", true)
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "root")
			if err := os.MkdirAll(filepath.Join(root, "c"), 0o755); err != nil {
				t.Fatal(err)
			}
			// The host directory has what the target names, so that a
			// mount by name would succeed there.
			host := t.TempDir()
			if err := os.Mkdir(filepath.Join(host, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			var mounts string
			err := inPrivateMountNS(t, func() error {
				if err := tc.do(&stubs{root: root, upper: root}, root, host); err != nil {
					return err
				}
				b, err := os.ReadFile("/proc/thread-self/mountinfo")
				mounts = string(b)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(mounts, "\n") {
				if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], host) {
					t.Errorf("got a mount on the host directory: %s", l)
				}
			}
			var names []string
			filepath.WalkDir(host, func(p string, d os.DirEntry, err error) error {
				if err == nil && p != host {
					names = append(names, strings.TrimPrefix(p, host+"/"))
				}
				return nil
			})
			if strings.Join(names, ",") != "sub" {
				t.Errorf("host directory: got %v, want [sub] as it was", names)
			}
		})
	}
}

// swap replaces root/c with a symlink to the host directory.
func swap(t *testing.T, root, host string) {
	if err := os.Rename(filepath.Join(root, "c"), filepath.Join(root, "c.old")); err != nil {
		t.Error(err)
	}
	if err := os.Symlink(host, filepath.Join(root, "c")); err != nil {
		t.Error(err)
	}
}
