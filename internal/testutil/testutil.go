// Package testutil holds probes for tests that need privileges or kernel
// features: they skip with the reason when those are missing.
package testutil

import (
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// RequireRoot skips t unless it runs as root on Linux.
func RequireRoot(t testing.TB) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("needs Linux, running on %s", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (mount and namespaces); run the tests as root")
	}
}

var (
	overlayOnce sync.Once
	overlayErr  error
)

// RequireOverlay skips t unless overlayfs can be mounted here, with its
// upper directory in the system temp dir. It needs root; the probe mounts
// in a private mount namespace on a locked thread, so nothing shows on the
// host.
func RequireOverlay(t testing.TB) {
	t.Helper()
	RequireRoot(t)
	overlayOnce.Do(func() { overlayErr = probeOverlay() })
	if overlayErr != nil {
		t.Skipf("needs overlayfs: %v", overlayErr)
	}
}

func probeOverlay() error {
	dir, err := os.MkdirTemp("", "kiln-overlay-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	errc := make(chan error, 1)
	go func() {
		// The thread is never unlocked: it dies with its private mount
		// namespace when the goroutine returns.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS); err != nil {
			errc <- err
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- err
			return
		}
		opts := "lowerdir=" + filepath.Join(dir, "lower") + ",upperdir=" + filepath.Join(dir, "upper") + ",workdir=" + filepath.Join(dir, "work")
		merged := filepath.Join(dir, "merged")
		if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
			errc <- err
			return
		}
		errc <- unix.Unmount(merged, 0)
	}()
	return <-errc
}
