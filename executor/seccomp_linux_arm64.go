package executor

import "golang.org/x/sys/unix"

// nativeArch is the seccomp_data.arch the filter accepts; 32-bit (compat)
// syscalls have another number table and are refused.
const nativeArch = unix.AUDIT_ARCH_AARCH64

// x32Bit has no meaning on arm64.
const x32Bit = 0
