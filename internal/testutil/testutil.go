// Package testutil holds probes for tests that need privileges or kernel
// features: they skip with the reason when those are missing. It also
// starts a private Docker engine (StartDockerd), the peer that tests and
// benchmarks compare kiln with.
package testutil

import (
	"os"
	"runtime"
	"sync"
	"testing"
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
	if err := OverlayError(); err != nil {
		t.Skipf("needs overlayfs: %v", err)
	}
}

// OverlayError says why overlayfs cannot be mounted here (nil when it can),
// for suites that decide once, in TestMain, whether to run. The probe runs
// once per process.
func OverlayError() error {
	overlayOnce.Do(func() { overlayErr = probeOverlay() })
	return overlayErr
}
