package executor

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// defaultDenied is what Docker's default profile (an allowlist) refuses a
// container without CAP_SYS_ADMIN and friends. kiln's default filter is a
// denylist of exactly these, answered with EPERM: the same effect on every
// syscall Docker's profile names, simpler to audit, and new syscalls the
// kernel grows are allowed rather than refused (Docker refuses them with
// EPERM until its list learns them). Names this architecture lacks are
// skipped. clone (with CLONE_NEWUSER) and personality are filtered by
// argument below.
var defaultDenied = []string{
	"acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module",
	"finit_module", "get_kernel_syms", "get_mempolicy", "init_module", "ioperm", "iopl", "kcmp",
	"kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mbind", "mount", "mount_setattr",
	"move_pages", "name_to_handle_at", "nfsservctl", "open_by_handle_at", "perf_event_open",
	"pivot_root", "process_vm_readv", "process_vm_writev", "ptrace", "query_module", "quotactl",
	"quotactl_fd", "reboot", "request_key", "set_mempolicy", "setns", "settimeofday", "stime",
	"swapon", "swapoff", "sysfs", "_sysctl", "umount", "umount2", "unshare", "uselib",
	"userfaultfd", "ustat", "vm86", "vm86old", "fsopen", "fsmount", "fsconfig", "fspick",
	"move_mount", "open_tree", "syslog", "fanotify_init", "lsm_set_self_attr",
	// Also outside Docker's allowlist without the matching capability.
	"sethostname", "setdomainname", "vhangup", "pidfd_getfd", "process_madvise", "chroot",
}

// deniedUnless lets a denied syscall through when the container has the
// capability it needs, as Docker's profile does (its "includes.caps").
var deniedUnless = map[string][]string{
	"SYS_ADMIN": {"bpf", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie",
		"mount", "mount_setattr", "move_mount", "name_to_handle_at", "open_tree", "perf_event_open",
		"quotactl", "quotactl_fd", "setns", "syslog", "umount", "umount2", "unshare", "clone",
		"sethostname", "setdomainname"},
	"SYS_CHROOT":      {"chroot"},
	"SYS_TTY_CONFIG":  {"vhangup"},
	"SYS_BOOT":        {"reboot"},
	"SYS_MODULE":      {"delete_module", "init_module", "finit_module"},
	"SYS_PACCT":       {"acct"},
	"SYS_PTRACE":      {"kcmp", "process_vm_readv", "process_vm_writev", "ptrace", "pidfd_getfd", "process_madvise"},
	"SYS_RAWIO":       {"iopl", "ioperm"},
	"SYS_TIME":        {"settimeofday", "stime", "clock_settime", "clock_adjtime"},
	"SYS_NICE":        {"get_mempolicy", "mbind", "set_mempolicy", "move_pages"},
	"SYSLOG":          {"syslog"},
	"BPF":             {"bpf"},
	"PERFMON":         {"perf_event_open"},
	"DAC_READ_SEARCH": {"open_by_handle_at"},
}

// allowedByCaps is the set of denied syscalls caps lets through.
func allowedByCaps(caps capMask) map[string]bool {
	ok := map[string]bool{}
	for c, names := range deniedUnless {
		i, err := capIndex(c)
		if err != nil || caps&(1<<i) == 0 {
			continue
		}
		for _, n := range names {
			ok[n] = true
		}
	}
	return ok
}

// personalityAllowed are the personality(2) arguments Docker's profile
// lets through: PER_LINUX, UNAME26, PER_LINUX32, their union, and the query.
var personalityAllowed = []uint32{0x0, 0x0008, 0x20000, 0x20008, 0xffffffff}

// seccomp_data offsets.
const (
	offNr   = 0
	offArch = 4
	offArg0 = 16 // low 32 bits on a little-endian machine
)

func stmt(code uint16, k uint32) unix.SockFilter {
	return unix.SockFilter{Code: code, K: k}
}

func jump(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
}

const (
	ldW  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	jeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	jset = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	ret  = unix.BPF_RET | unix.BPF_K
	ja   = unix.BPF_JMP | unix.BPF_JA
	and  = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
)

func retOf(a SeccompAction, errno uint32) (uint32, error) {
	switch a {
	case ActAllow:
		return unix.SECCOMP_RET_ALLOW, nil
	case ActErrno:
		if errno == 0 {
			errno = uint32(unix.EPERM)
		}
		return unix.SECCOMP_RET_ERRNO | errno&unix.SECCOMP_RET_DATA, nil
	case ActKill, ActKillT:
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case ActKillP:
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case ActTrap:
		return unix.SECCOMP_RET_TRAP, nil
	case ActLog:
		return unix.SECCOMP_RET_LOG, nil
	}
	return 0, fmt.Errorf("%w: seccomp action %q", ErrInvalidSpec, a)
}

// buildFilter compiles p (or, when p is nil, the default denylist) to
// classic BPF: a dispatch on the arch, then one block per ABI, each with
// its own syscall numbers. Each rule is "jeq nr; ret action", so no
// conditional jump is ever longer than the 255 instructions it can reach;
// the dispatch uses BPF_JA, whose offset is 32 bits.
func buildFilter(p *SeccompProfile, caps capMask) ([]unix.SockFilter, error) {
	if nativeArch == 0 {
		return nil, fmt.Errorf("seccomp: not implemented on %s", runtime.GOARCH)
	}
	native, err := filterBlock(p, caps, abi{syscallTable, nativeArchName, x32Bit})
	if err != nil {
		return nil, err
	}
	compat, err := filterBlock(p, caps, abi{compatSyscallTable, compatArchName, 0})
	if err != nil {
		return nil, err
	}
	// 0 ld arch; 1 jeq native; 2 ja native; 3 jeq compat; 4 ja compat;
	// 5 ret kill; 6 native…; compat…
	const head = 6
	prog := []unix.SockFilter{
		stmt(ldW, offArch),
		jump(jeq, nativeArch, 0, 1),
		stmt(ja, 3),
		jump(jeq, compatArch, 0, 1),
		stmt(ja, uint32(head+len(native)-5)),
		stmt(ret, unix.SECCOMP_RET_KILL_PROCESS),
	}
	prog = append(append(prog, native...), compat...)
	if len(prog) > 4096 {
		return nil, fmt.Errorf("%w: seccomp profile needs %d BPF instructions, the kernel takes 4096", ErrInvalidSpec, len(prog))
	}
	return prog, nil
}

// filterBlock is the filter for one ABI: it loads the syscall number and
// ends in the default action.
func filterBlock(p *SeccompProfile, caps capMask, a abi) ([]unix.SockFilter, error) {
	table := a.table
	eperm := unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	prog := []unix.SockFilter{stmt(ldW, offNr)}
	if a.x32 != 0 {
		prog = append(prog, jump(jset, a.x32, 0, 1), stmt(ret, eperm))
	}
	rule := func(nr, action uint32) {
		prog = append(prog, jump(jeq, nr, 0, 1), stmt(ret, action))
	}
	defaultRet := uint32(unix.SECCOMP_RET_ALLOW)
	if p == nil {
		allowed := allowedByCaps(caps)
		for _, n := range defaultDenied {
			if nr, ok := table[n]; ok && !allowed[n] {
				rule(nr, eperm)
			}
		}
		// clone3 hides its flags behind a pointer a filter cannot read;
		// ENOSYS makes libcs fall back to clone, whose flags it can.
		if nr, ok := table["clone3"]; ok && !allowed["clone"] {
			rule(nr, unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS))
		}
		if nr, ok := table["clone"]; ok && !allowed["clone"] {
			prog = append(prog,
				jump(jeq, nr, 0, 4),
				stmt(ldW, offArg0),
				jump(jset, uint32(unix.CLONE_NEWUSER), 0, 1),
				stmt(ret, eperm),
				stmt(ldW, offNr))
		}
		if nr, ok := table["personality"]; ok {
			n := len(personalityAllowed)
			prog = append(prog, jump(jeq, nr, 0, uint8(n+3)), stmt(ldW, offArg0))
			for k, v := range personalityAllowed {
				prog = append(prog, jump(jeq, v, uint8(n-k), 0))
			}
			prog = append(prog, stmt(ret, eperm), stmt(ldW, offNr))
		}
	} else {
		var err error
		if defaultRet, err = retOf(p.DefaultAction, p.DefaultErrno); err != nil {
			return nil, err
		}
		// A later rule for the same syscall wins, as a later line of a
		// profile reads.
		action := map[uint32]uint32{}
		var order []uint32
		for _, r := range p.Rules {
			act, err := retOf(r.Action, r.Errno)
			if err != nil {
				return nil, err
			}
			if !r.appliesTo(caps, a.name) {
				continue
			}
			if len(r.Args) > 0 {
				// Conditional rules go first, in profile order; when
				// none matches, the syscall's plain rule or the default.
				for _, n := range r.Names {
					if nr, ok := table[n]; ok {
						prog = append(prog, argRule(nr, r.Args, act)...)
					}
				}
				continue
			}
			for _, n := range r.Names {
				nr, ok := table[n]
				if !ok {
					continue
				}
				if _, seen := action[nr]; !seen {
					order = append(order, nr)
				}
				action[nr] = act
			}
		}
		for _, nr := range order {
			if action[nr] != defaultRet {
				rule(nr, action[nr])
			}
		}
	}
	return append(prog, stmt(ret, defaultRet)), nil
}

// abi is one syscall ABI the filter covers.
type abi struct {
	table map[string]uint32
	name  string // as profiles name it: amd64, x86, arm64, arm
	x32   uint32
}

// appliesTo evaluates a rule's includes and excludes.
func (r *SeccompRule) appliesTo(caps capMask, arch string) bool {
	for _, c := range r.IncludeCaps {
		if i, err := capIndex(c); err != nil || caps&(1<<i) == 0 {
			return false
		}
	}
	for _, c := range r.ExcludeCaps {
		if i, err := capIndex(c); err == nil && caps&(1<<i) != 0 {
			return false
		}
	}
	if len(r.IncludeArches) > 0 && !hasString(r.IncludeArches, arch) || hasString(r.ExcludeArches, arch) {
		return false
	}
	if r.MinKernel != "" {
		maj, min, err := parseKernelVersion(r.MinKernel)
		kmaj, kmin, kerr := kernelVersion()
		if err != nil || kerr != nil || kmaj < maj || kmaj == maj && kmin < min {
			return false
		}
	}
	return true
}

func kernelVersion() (int, int, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return 0, 0, err
	}
	return parseKernelVersion(unix.ByteSliceToString(u.Release[:]))
}

// argRule is "if nr and every condition holds, return action". Arguments
// are 64 bits wide; BPF compares 32, so each condition checks both halves.
// A failed condition jumps to the end, where the syscall number is loaded
// again for the rules after.
func argRule(nr uint32, args []SeccompArg, action uint32) []unix.SockFilter {
	var body []unix.SockFilter
	var fails []int // instructions whose false branch goes to the end
	for _, a := range args {
		lo, hi := uint32(offArg0+8*a.Index), uint32(offArg0+8*a.Index+4)
		switch a.Op {
		case "SCMP_CMP_EQ":
			body = append(body, stmt(ldW, hi), jump(jeq, uint32(a.Value>>32), 0, 0))
			fails = append(fails, len(body)-1)
			body = append(body, stmt(ldW, lo), jump(jeq, uint32(a.Value), 0, 0))
			fails = append(fails, len(body)-1)
		case "SCMP_CMP_NE":
			// Holds if the high halves differ, or else the low ones do.
			body = append(body, stmt(ldW, hi), jump(jeq, uint32(a.Value>>32), 0, 2),
				stmt(ldW, lo), jump(jeq, uint32(a.Value), 0xff, 0))
			fails = append(fails, -(len(body) - 1)) // the true branch fails
		case "SCMP_CMP_MASKED_EQ":
			body = append(body, stmt(ldW, hi), stmt(and, uint32(a.Value>>32)), jump(jeq, uint32(a.ValueTwo>>32), 0, 0))
			fails = append(fails, len(body)-1)
			body = append(body, stmt(ldW, lo), stmt(and, uint32(a.Value)), jump(jeq, uint32(a.ValueTwo), 0, 0))
			fails = append(fails, len(body)-1)
		}
	}
	body = append(body, stmt(ret, action))
	end := len(body) // index of the reload, relative to body
	for _, f := range fails {
		if f < 0 {
			body[-f].Jt = uint8(end - (-f) - 1)
		} else {
			body[f].Jf = uint8(end - f - 1)
		}
	}
	out := []unix.SockFilter{jump(jeq, nr, 0, uint8(len(body)))}
	out = append(out, body...)
	return append(out, stmt(ldW, offNr))
}

// installSeccomp loads the filter on the calling thread, the one that will
// execve: the filter survives exec and binds every process the container
// makes.
func (c *secConfig) installSeccomp() error {
	var p *SeccompProfile
	switch c.Seccomp {
	case "unconfined":
		return nil
	case "profile":
		p = c.Profile
	}
	prog, err := buildFilter(p, c.Caps)
	if err != nil {
		return err
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return fmt.Errorf("install seccomp filter: %w", errno)
	}
	return nil
}
