//go:build linux && !amd64 && !arm64

package executor

// Seccomp is implemented on amd64 and arm64 only; elsewhere a container
// needs seccomp=unconfined, and says so.
const (
	nativeArch = 0
	compatArch = 0
	x32Bit     = 0

	nativeArchName = ""
	compatArchName = ""
)

var (
	syscallTable       = map[string]uint32{}
	compatSyscallTable = map[string]uint32{}
)
