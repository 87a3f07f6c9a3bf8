package testutil

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/kiln-build/kiln/internal/netlink"
)

// InOwnNetns runs this test binary again, with the same arguments, in a new
// network namespace whose loopback is up, and returns its exit status; the
// copy finds marker=1 and env in its environment. Whatever the tests make
// there (kiln's bridges, veths and iptables rules, servers) is gone with it
// when they end. A TestMain calls it when marker is unset, and otherwise
// calls LoopbackUp and runs the tests.
func InOwnNetns(marker string, env ...string) int {
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Env = append(append(os.Environ(), marker+"=1"), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "run the tests in a network namespace of their own: %v\n", err)
		return 1
	}
	return 0
}

// LoopbackUp brings up lo, which a new network namespace starts with down.
func LoopbackUp() error {
	h, err := netlink.Open()
	if err != nil {
		return err
	}
	defer h.Close()
	return h.SetUp("lo")
}
