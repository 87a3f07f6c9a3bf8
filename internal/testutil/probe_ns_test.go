package testutil

import (
	"os"
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
}
