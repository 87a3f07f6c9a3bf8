package executor

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/kiln-build/kiln/internal/suggest"
)

// Security is what a container may do to the kernel. The zero value is
// Docker's default: its capability set, its seccomp profile's effect, masked
// and read-only /proc and /sys paths, and no no_new_privs (setuid binaries
// in an image keep working, as under Docker).
type Security struct {
	// CapAdd and CapDrop adjust the default capability set; names as
	// Docker takes them ("NET_ADMIN" or "CAP_NET_ADMIN", any case), or "ALL".
	// Drops apply first, so `--cap-drop ALL --cap-add CHOWN` leaves CHOWN.
	CapAdd, CapDrop []string
	// Privileged keeps every capability the host grants, and turns off
	// seccomp and the masked paths.
	Privileged bool
	// Seccomp is the profile to install; nil means the default one.
	Seccomp *SeccompProfile
	// SeccompUnconfined installs no filter at all.
	SeccompUnconfined bool
	// NoNewPrivileges sets no_new_privs: setuid bits and file capabilities
	// no longer raise privileges on exec.
	NoNewPrivileges bool
}

// capNames are the kernel's capabilities, indexed by number.
var capNames = []string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
	"SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
	"IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
	"LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
	"WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
}

// DefaultCaps is Docker's default capability set.
var DefaultCaps = []string{
	"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
	"SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
}

// capMask is a set of capabilities, bit n for capability n.
type capMask uint64

const capSysAdmin = 21

func capIndex(name string) (int, error) {
	n := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(name)), "CAP_")
	for i, c := range capNames {
		if c == n {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown capability %q%s", ErrInvalidSpec, name, didYouMean(n, capNames))
}

func didYouMean(n string, names []string) string {
	if s := suggest.Closest(n, names); s != "" {
		return " (did you mean " + s + "?)"
	}
	return ""
}

// Validate checks the capability names.
func (s *Security) Validate() error {
	_, err := s.caps()
	return err
}

// caps resolves the capability set the container gets; the init further
// limits it to what the host's bounding set holds.
func (s *Security) caps() (capMask, error) {
	all := capMask(1)<<len(capNames) - 1
	if s.Privileged {
		return all, nil
	}
	var m capMask
	for _, n := range DefaultCaps {
		i, _ := capIndex(n)
		m |= 1 << i
	}
	for _, n := range s.CapDrop {
		if strings.EqualFold(n, "ALL") {
			m = 0
			continue
		}
		i, err := capIndex(n)
		if err != nil {
			return 0, err
		}
		m &^= 1 << i
	}
	for _, n := range s.CapAdd {
		if strings.EqualFold(n, "ALL") {
			m = all
			continue
		}
		i, err := capIndex(n)
		if err != nil {
			return 0, err
		}
		m |= 1 << i
	}
	return m, nil
}

// String names the capabilities in m, CAP_ prefixed as /proc shows them.
func (m capMask) String() string {
	var out []string
	for i, c := range capNames {
		if m&(1<<i) != 0 {
			out = append(out, "CAP_"+c)
		}
	}
	return strings.Join(out, ",")
}

// SeccompAction is what a filter does with a syscall.
type SeccompAction string

// The actions of Docker's profile format that kiln implements.
const (
	ActAllow SeccompAction = "SCMP_ACT_ALLOW"
	ActErrno SeccompAction = "SCMP_ACT_ERRNO"
	ActKill  SeccompAction = "SCMP_ACT_KILL" // the thread, as libseccomp
	ActKillP SeccompAction = "SCMP_ACT_KILL_PROCESS"
	ActKillT SeccompAction = "SCMP_ACT_KILL_THREAD"
	ActTrap  SeccompAction = "SCMP_ACT_TRAP"
	ActLog   SeccompAction = "SCMP_ACT_LOG"
)

// SeccompProfile is the subset of Docker's seccomp JSON profile that kiln
// implements: a default action and rules naming syscalls, with argument
// conditions (==, != and masked ==) and includes/excludes by capability,
// architecture and kernel version. That is all Docker's own default profile
// uses, so it loads as is.
type SeccompProfile struct {
	DefaultAction SeccompAction
	DefaultErrno  uint32 // for ActErrno; EPERM when 0
	Rules         []SeccompRule
}

// SeccompRule applies Action to the named syscalls. Names this
// architecture does not have are skipped, as libseccomp does.
type SeccompRule struct {
	Names  []string
	Action SeccompAction
	Errno  uint32 // for ActErrno; EPERM when 0
	// Args must all hold for the rule to apply.
	Args []SeccompArg
	// The rule applies only with all of IncludeCaps, on one of
	// IncludeArches (if any; Docker's names: amd64, x86, arm64, arm) and a
	// kernel at least MinKernel; never with any of ExcludeCaps or on any of
	// ExcludeArches.
	IncludeCaps, ExcludeCaps     []string
	IncludeArches, ExcludeArches []string
	MinKernel                    string
}

// SeccompArg compares syscall argument Index with Value: Op is
// SCMP_CMP_EQ, SCMP_CMP_NE or SCMP_CMP_MASKED_EQ ((arg & Value) == ValueTwo).
type SeccompArg struct {
	Index    uint
	Value    uint64
	ValueTwo uint64
	Op       string
}

var argOps = []string{"SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_MASKED_EQ"}

// ParseSeccompProfile reads Docker's JSON seccomp profile format. What
// kiln does not implement (SCMP_ACT_NOTIFY, <, >, excludes.minKernel, …) is
// refused rather than silently ignored: a profile that means more than kiln
// enforces is an error.
func ParseSeccompProfile(data []byte) (*SeccompProfile, error) {
	var raw struct {
		DefaultAction   string          `json:"defaultAction"`
		DefaultErrnoRet *uint32         `json:"defaultErrnoRet"`
		Architectures   []string        `json:"architectures"`
		ArchMap         json.RawMessage `json:"archMap"`
		Syscalls        []struct {
			Name     string       `json:"name"`
			Names    []string     `json:"names"`
			Action   string       `json:"action"`
			ErrnoRet *uint32      `json:"errnoRet"`
			Args     []SeccompArg `json:"args"`
			Includes filterJSON   `json:"includes"`
			Excludes filterJSON   `json:"excludes"`
			Comment  string       `json:"comment"`
		} `json:"syscalls"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: seccomp profile: %w", ErrInvalidSpec, err)
	}
	act, err := parseAction(raw.DefaultAction)
	if err != nil {
		return nil, fmt.Errorf("%w: seccomp profile: defaultAction: %w", ErrInvalidSpec, err)
	}
	p := &SeccompProfile{DefaultAction: act}
	if raw.DefaultErrnoRet != nil {
		p.DefaultErrno = *raw.DefaultErrnoRet
	}
	for i, sc := range raw.Syscalls {
		names := sc.Names
		if sc.Name != "" {
			names = append([]string{sc.Name}, names...)
		}
		where := fmt.Sprintf("seccomp profile: syscalls[%d] (%s)", i, strings.Join(names, ","))
		if len(names) == 0 {
			return nil, fmt.Errorf("%w: %s: no names", ErrInvalidSpec, where)
		}
		if len(sc.Args) > 6 {
			return nil, fmt.Errorf("%w: %s: %d argument conditions (at most 6)", ErrInvalidSpec, where, len(sc.Args))
		}
		for _, a := range sc.Args {
			if a.Index > 5 {
				return nil, fmt.Errorf("%w: %s: argument index %d (syscalls have 6 arguments)", ErrInvalidSpec, where, a.Index)
			}
			if !hasString(argOps, a.Op) {
				return nil, fmt.Errorf("%w: %s: argument comparison %q is not supported (kiln has %s)", ErrInvalidSpec, where, a.Op, strings.Join(argOps, ", "))
			}
		}
		if err := sc.Includes.check(); err != nil {
			return nil, fmt.Errorf("%w: %s: includes: %w", ErrInvalidSpec, where, err)
		}
		if err := sc.Excludes.check(); err != nil {
			return nil, fmt.Errorf("%w: %s: excludes: %w", ErrInvalidSpec, where, err)
		}
		if sc.Excludes.MinKernel != "" {
			return nil, fmt.Errorf("%w: %s: excludes: minKernel is not supported", ErrInvalidSpec, where)
		}
		a, err := parseAction(sc.Action)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidSpec, where, err)
		}
		r := SeccompRule{
			Names: names, Action: a, Args: sc.Args,
			IncludeCaps: sc.Includes.Caps, IncludeArches: sc.Includes.Arches, MinKernel: sc.Includes.MinKernel,
			ExcludeCaps: sc.Excludes.Caps, ExcludeArches: sc.Excludes.Arches,
		}
		if sc.ErrnoRet != nil {
			r.Errno = *sc.ErrnoRet
		}
		p.Rules = append(p.Rules, r)
	}
	return p, nil
}

// filterJSON is a rule's includes or excludes.
type filterJSON struct {
	Caps      []string `json:"caps"`
	Arches    []string `json:"arches"`
	MinKernel string   `json:"minKernel"`
}

func (f *filterJSON) check() error {
	for _, c := range f.Caps {
		if _, err := capIndex(c); err != nil {
			return err
		}
	}
	if f.MinKernel != "" {
		if _, _, err := parseKernelVersion(f.MinKernel); err != nil {
			return err
		}
	}
	return nil
}

// parseKernelVersion reads the major.minor of a kernel release ("6.1",
// "6.1.0-13-amd64").
func parseKernelVersion(s string) (major, minor int, err error) {
	if _, err := fmt.Sscanf(s, "%d.%d", &major, &minor); err != nil {
		return 0, 0, fmt.Errorf("kernel version %q: want major.minor", s)
	}
	return major, minor, nil
}

func hasString(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

var actions = []SeccompAction{ActAllow, ActErrno, ActKill, ActKillP, ActKillT, ActTrap, ActLog}

func parseAction(s string) (SeccompAction, error) {
	for _, a := range actions {
		if string(a) == s {
			return a, nil
		}
	}
	names := make([]string, len(actions))
	for i, a := range actions {
		names[i] = string(a)
	}
	sort.Strings(names)
	if s == "" {
		return "", fmt.Errorf("no action (want one of %s)", strings.Join(names, ", "))
	}
	return "", fmt.Errorf("unsupported action %q (want one of %s)", s, strings.Join(names, ", "))
}
