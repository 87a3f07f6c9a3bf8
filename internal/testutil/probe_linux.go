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
		// The thread goes back to the original mount namespace before it
		// is unlocked; if it cannot, it stays locked and dies with the
		// goroutine. (Were it the main thread, the runtime could not end
		// it, and /proc/self, which shows the main thread's namespaces,
		// would show the private one from then on.)
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/mnt")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS); err != nil {
			errc <- err
			return
		}
		defer func() {
			if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNS) == nil {
				runtime.UnlockOSThread()
			}
		}()
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
