package executor

import "golang.org/x/sys/unix"

// nativeArch and compatArch are the seccomp_data.arch values the filter
// knows, each checked against its own syscall table (AArch32 binaries have
// other numbers). Any other arch is killed.
const (
	nativeArch = unix.AUDIT_ARCH_AARCH64
	compatArch = unix.AUDIT_ARCH_ARM
)

// The arches' names in seccomp profiles.
const (
	nativeArchName = "arm64"
	compatArchName = "arm"
)

// x32Bit has no meaning on arm64.
const x32Bit = 0
