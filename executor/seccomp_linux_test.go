package executor

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// evalBPF runs a seccomp classic-BPF program over one seccomp_data, with
// just the instructions buildFilter emits.
func evalBPF(t *testing.T, prog []unix.SockFilter, arch, nr uint32, arg0 uint64) uint32 {
	t.Helper()
	data := make([]byte, 64)
	binary.LittleEndian.PutUint32(data[0:], nr)
	binary.LittleEndian.PutUint32(data[4:], arch)
	binary.LittleEndian.PutUint64(data[16:], arg0)
	return runBPF(t, prog, data)
}

// runBPF interprets the instructions buildFilter emits over data.
func runBPF(t *testing.T, prog []unix.SockFilter, data []byte) uint32 {
	t.Helper()
	var a uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case ldW:
			a = binary.LittleEndian.Uint32(data[in.K:])
		case jeq, jset:
			hit := a == in.K
			if in.Code == jset {
				hit = a&in.K != 0
			}
			if hit {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case ja:
			pc += int(in.K)
		case and:
			a &= in.K
		case ret:
			return in.K
		default:
			t.Fatalf("instruction %d: unexpected code %#x", pc, in.Code)
		}
	}
	t.Fatal("program fell off its end")
	return 0
}

func TestDefaultSeccompFilter(t *testing.T) {
	if nativeArch == 0 {
		t.Skip("seccomp is not implemented on this architecture")
	}
	eperm := unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	enosys := unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	nr := func(n string) uint32 {
		v, ok := syscallTable[n]
		if !ok {
			t.Fatalf("no syscall %s on this architecture", n)
		}
		return v
	}
	def := capMask(0xa80425fb)
	for _, tc := range []struct {
		name string
		caps capMask
		arch uint32
		nr   uint32
		arg0 uint64
		want uint32
	}{
		{"read", def, nativeArch, nr("read"), 0, allow},
		{"execve", def, nativeArch, nr("execve"), 0, allow},
		{"capset", def, nativeArch, nr("capset"), 0, allow},
		{"setuid", def, nativeArch, nr("setuid"), 0, allow},
		{"mount", def, nativeArch, nr("mount"), 0, eperm},
		{"keyctl", def, nativeArch, nr("keyctl"), 0, eperm},
		{"bpf", def, nativeArch, nr("bpf"), 0, eperm},
		{"kexec_load", def, nativeArch, nr("kexec_load"), 0, eperm},
		{"ptrace", def, nativeArch, nr("ptrace"), 0, eperm},
		{"open_tree", def, nativeArch, nr("open_tree"), 0, eperm},
		{"unshare", def, nativeArch, nr("unshare"), 0, eperm},
		{"clone thread", def, nativeArch, nr("clone"), unix.CLONE_VM | unix.CLONE_THREAD, allow},
		{"clone newuser", def, nativeArch, nr("clone"), unix.CLONE_NEWUSER, eperm},
		{"clone newuser in high word is ignored", def, nativeArch, nr("clone"), 1 << 40, allow},
		{"clone3", def, nativeArch, nr("clone3"), 0, enosys},
		{"personality query", def, nativeArch, nr("personality"), 0xffffffff, allow},
		{"personality linux", def, nativeArch, nr("personality"), 0, allow},
		{"personality read_implies_exec", def, nativeArch, nr("personality"), 0x0400000, eperm},
		{"other arch", def, nativeArch ^ 1, nr("read"), 0, unix.SECCOMP_RET_KILL_PROCESS},
		{"sys_admin allows mount", def | 1<<capSysAdmin, nativeArch, nr("mount"), 0, allow},
		{"sys_admin allows clone newuser", def | 1<<capSysAdmin, nativeArch, nr("clone"), unix.CLONE_NEWUSER, allow},
		{"sys_ptrace allows ptrace", def | 1<<19, nativeArch, nr("ptrace"), 0, allow},
		{"sys_ptrace keeps keyctl out", def | 1<<19, nativeArch, nr("keyctl"), 0, eperm},
		{"sethostname", def, nativeArch, nr("sethostname"), 0, eperm},
		{"chroot with SYS_CHROOT (default)", def, nativeArch, nr("chroot"), 0, allow},
		{"chroot without SYS_CHROOT", def &^ (1 << 18), nativeArch, nr("chroot"), 0, eperm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prog, err := buildFilter(nil, tc.caps)
			if err != nil {
				t.Fatal(err)
			}
			if got := evalBPF(t, prog, tc.arch, tc.nr, tc.arg0); got != tc.want {
				t.Errorf("got %#x, want %#x", got, tc.want)
			}
		})
	}
	// The compat ABI has its own numbers: the same names are refused.
	prog, err := buildFilter(nil, def)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		want uint32
	}{
		{"read", allow}, {"mount", eperm}, {"keyctl", eperm}, {"unshare", eperm}, {"execve", allow},
	} {
		nr, ok := compatSyscallTable[tc.name]
		if !ok {
			continue
		}
		if got := evalBPF(t, prog, compatArch, nr, 0); got != tc.want {
			t.Errorf("compat %s: got %#x, want %#x", tc.name, got, tc.want)
		}
	}
	if nr, ok := compatSyscallTable["clone"]; ok {
		if got := evalBPF(t, prog, compatArch, nr, unix.CLONE_NEWUSER); got != eperm {
			t.Errorf("compat clone(CLONE_NEWUSER): got %#x, want %#x", got, eperm)
		}
	}
	if x32Bit != 0 {
		if got := evalBPF(t, prog, nativeArch, x32Bit|nr("read"), 0); got != eperm {
			t.Errorf("x32 read: got %#x, want %#x", got, eperm)
		}
	}
}

func TestProfileSeccompFilter(t *testing.T) {
	if nativeArch == 0 {
		t.Skip("seccomp is not implemented on this architecture")
	}
	p := &SeccompProfile{DefaultAction: ActErrno, DefaultErrno: 38, Rules: []SeccompRule{
		{Names: []string{"read", "write", "no_such_syscall"}, Action: ActAllow},
		{Names: []string{"write"}, Action: ActErrno, Errno: 13}, // a later rule wins
		{Names: []string{"getpid"}, Action: ActKillP},
	}}
	prog, err := buildFilter(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		want uint32
	}{
		{"read", unix.SECCOMP_RET_ALLOW},
		{"write", unix.SECCOMP_RET_ERRNO | 13},
		{"getpid", unix.SECCOMP_RET_KILL_PROCESS},
		{"mkdirat", unix.SECCOMP_RET_ERRNO | 38},
	} {
		if got := evalBPF(t, prog, nativeArch, syscallTable[tc.name], 0); got != tc.want {
			t.Errorf("%s: got %#x, want %#x", tc.name, got, tc.want)
		}
	}
}

// TestProfileArgsAndIncludes loads a profile shaped like Docker's default
// (an allowlist with argument conditions and includes/excludes) and checks
// the filter's verdicts.
func TestProfileArgsAndIncludes(t *testing.T) {
	if nativeArch == 0 {
		t.Skip("seccomp is not implemented on this architecture")
	}
	p, err := ParseSeccompProfile([]byte(`{
	"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
	"syscalls": [
		{"names": ["read", "write", "execve"], "action": "SCMP_ACT_ALLOW"},
		{"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
		{"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
		{"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}], "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
		{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]},
		{"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 8589934592, "op": "SCMP_CMP_EQ"}]},
		{"names": ["mount", "clone"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
		{"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["x86", "arm"]}},
		{"names": ["getppid"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["x86", "arm"]}},
		{"names": ["gettid"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}},
		{"names": ["getuid"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "3.0"}}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	deny := uint32(unix.SECCOMP_RET_ERRNO | 1)
	def := capMask(0xa80425fb)
	type call struct {
		name string
		caps capMask
		arch uint32
		arg0 uint64
		arg1 uint64
		want uint32
	}
	n := uint32(nativeArch)
	for _, c := range []call{
		{"read", def, n, 0, 0, allow},
		{"mkdir", def, n, 0, 0, deny},
		{"personality", def, n, 0, 0, allow},
		{"personality", def, n, 8, 0, allow},
		{"personality", def, n, 9, 0, deny},
		{"personality", def, n, 1<<32 | 8, 0, deny},
		{"clone", def, n, unix.CLONE_VM | unix.CLONE_THREAD, 0, allow},
		{"clone", def, n, unix.CLONE_NEWUSER, 0, deny},
		{"clone", def, n, unix.CLONE_NEWNS, 0, deny},
		{"clone", def | 1<<capSysAdmin, n, unix.CLONE_NEWUSER, 0, allow},
		{"socket", def, n, unix.AF_INET, 0, allow},
		{"socket", def, n, 40, 0, deny},
		{"socket", def, n, 1<<32 | 40, 0, allow},
		{"mmap", def, n, 0, 1 << 33, allow},
		{"mmap", def, n, 0, 0, deny},
		{"mmap", def, n, 0, 1<<33 | 1, deny},
		{"mount", def, n, 0, 0, deny},
		{"mount", def | 1<<capSysAdmin, n, 0, 0, allow},
		{"getpid", def, n, 0, 0, deny},
		{"getppid", def, n, 0, 0, allow},
		{"gettid", def, n, 0, 0, deny},
		{"getuid", def, n, 0, 0, allow},
	} {
		prog, err := buildFilter(p, c.caps)
		if err != nil {
			t.Fatal(err)
		}
		nr := syscallTable[c.name]
		if got := evalBPFArgs(t, prog, c.arch, nr, c.arg0, c.arg1); got != c.want {
			t.Errorf("%s(%#x, %#x) with caps %#x: got %#x, want %#x", c.name, c.arg0, c.arg1, uint64(c.caps), got, c.want)
		}
	}
	// On the compat ABI, by its own numbers.
	prog, _ := buildFilter(p, def)
	for name, want := range map[string]uint32{"getpid": allow, "getppid": deny, "read": allow, "mkdir": deny} {
		if nr, ok := compatSyscallTable[name]; ok {
			if got := evalBPFArgs(t, prog, compatArch, nr, 0, 0); got != want {
				t.Errorf("compat %s: got %#x, want %#x", name, got, want)
			}
		}
	}
}

// evalBPFArgs is evalBPF with a second argument.
func evalBPFArgs(t *testing.T, prog []unix.SockFilter, arch, nr uint32, arg0, arg1 uint64) uint32 {
	t.Helper()
	data := make([]byte, 64)
	binary.LittleEndian.PutUint32(data[0:], nr)
	binary.LittleEndian.PutUint32(data[4:], arch)
	binary.LittleEndian.PutUint64(data[16:], arg0)
	binary.LittleEndian.PutUint64(data[24:], arg1)
	return runBPF(t, prog, data)
}
