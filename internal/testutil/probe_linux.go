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
	var perr error
	onThrowawayThread(func() {
		if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS); err != nil {
			perr = err
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			perr = err
			return
		}
		opts := "lowerdir=" + filepath.Join(dir, "lower") + ",upperdir=" + filepath.Join(dir, "upper") + ",workdir=" + filepath.Join(dir, "work")
		merged := filepath.Join(dir, "merged")
		if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
			perr = err
			return
		}
		perr = unix.Unmount(merged, 0)
	})
	return perr
}

// onThrowawayThread runs fn on an OS thread of its own that ends with it,
// so that whatever fn changes of the thread (its mount namespace, its own
// working directory after CLONE_FS) reaches no other goroutine. Going back
// with setns would not do: entering a mount namespace moves the thread's
// working directory to its root. The main thread cannot be ended (the
// runtime would keep it, changed, and /proc/self shows its namespaces), so
// fn never runs there.
func onThrowawayThread(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// Held here, the main thread runs nothing else meanwhile: the
			// next goroutine gets another thread.
			onThrowawayThread(fn)
			runtime.UnlockOSThread()
			return
		}
		fn() // never unlocked: the thread ends with this goroutine
	}()
	<-done
}
