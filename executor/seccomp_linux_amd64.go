package executor

import "golang.org/x/sys/unix"

// nativeArch and compatArch are the seccomp_data.arch values the filter
// knows, each checked against its own syscall table (i386 binaries enter
// through int 0x80 with other numbers). Any other arch is killed.
const (
	nativeArch = unix.AUDIT_ARCH_X86_64
	compatArch = unix.AUDIT_ARCH_I386
)

// The arches' names in seccomp profiles.
const (
	nativeArchName = "amd64"
	compatArchName = "x86"
)

// x32Bit marks an x32 syscall number on x86_64: refused (EPERM), as x32
// binaries are all but extinct and their numbers need a third table.
const x32Bit = 0x40000000
