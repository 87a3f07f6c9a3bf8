package testutil

import (
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

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
