package testutil

import (
	"os"
	"runtime"
	"sync"
	"testing"
)

// The overlay probe mounts in a private mount namespace; the process must
// not be left in it, whichever thread the probe ran on (the main one
// included, whose namespaces /proc/self shows).
func TestProbeLeavesMountNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the probe needs root to unshare a mount namespace")
	}
	before, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		_ = probeOverlay()
	}
	if after, _ := os.Readlink("/proc/self/ns/mnt"); after != before {
		t.Fatalf("after the probe /proc/self/ns/mnt is %s, want %s as before", after, before)
	}
	// No thread the probe used is handed to other goroutines with its own
	// working directory: relative paths resolve on every thread.
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
		wg.Go(func() {
			runtime.LockOSThread() // spread over the threads there are
			defer runtime.UnlockOSThread()
			if _, err := os.Stat("probe_ns_test.go"); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatalf("a relative path after the probe: %v", err)
	}
}
