package executor

import "golang.org/x/sys/unix"

// nativeArch is the seccomp_data.arch the filter accepts. Syscalls made
// through another ABI (int 0x80's i386 numbers, x32) would be looked up in
// the wrong table, so the filter refuses them all.
const nativeArch = unix.AUDIT_ARCH_X86_64

// x32Bit marks an x32 syscall number on x86_64.
const x32Bit = 0x40000000
