package executor

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
)

// Rootfs is a stack of layer directories mounted with overlayfs.
type Rootfs struct {
	Lower []string // layer directories, bottom first; may be empty (scratch)
	Upper string   // overlay upperdir: receives every change
	Work  string   // overlay workdir: an empty dir on Upper's filesystem
	// Volatile says Upper is thrown away after this run (a --rm
	// container's). The overlay is then mounted volatile: unmounting it
	// does not sync the whole of Upper's filesystem, which also made every
	// file the run left behind slow to remove, and fsync in the container
	// is a no-op. Overlayfs will not mount such an Upper again unless its
	// marker in Work is removed, which Run does for a Volatile one.
	Volatile bool
}

// Spec describes one process to run in a container.
type Spec struct {
	Rootfs Rootfs
	Args   []string
	// Env is KEY=VALUE. PATH is defaulted as Docker does when absent, HOME
	// from the user's passwd entry (or /).
	Env []string
	// Cwd is absolute; it is created (0755) if missing and lands in the layer.
	Cwd string
	// User is "", name, uid, name:group, uid:gid, … resolved in the rootfs's
	// /etc/passwd and /etc/group with Docker's rules.
	User     string
	Hostname string // defaults to DefaultHostname
	// Names is what the container's /etc/hosts and /etc/resolv.conf get
	// beyond the defaults: --add-host, --dns, --dns-search.
	Names Names
	// Network is "" or "host" for the host's network namespace, "none" for a
	// new one with only loopback, "bridge" for a new one that Started
	// connects (the container package's networks).
	Network string
	// HostsFile, if set, is the container's /etc/hosts, kept by the caller
	// (which may rewrite it in place while the container runs) instead of
	// one made from Hostname and Names; it is bound read-write, as
	// Docker's.
	HostsFile      string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Tty allocates a pty whose slave becomes the process's controlling
	// terminal; Stdin and Stdout are copied to and from the master.
	Tty bool
	// Init keeps kiln's init as PID 1: it runs Args as its child, reaps
	// orphans, forwards signals and exits with the command's status.
	Init bool
	// Signals are forwarded to the container's process while it runs.
	Signals <-chan os.Signal
	// Mounts are RUN --mount's (see mount.go); nothing of them lands in
	// Rootfs.Upper.
	Mounts []Mount
	// Cgroups are cgroup directories, made by the caller with their limits
	// set, that the container's process starts in (cgroup_linux.go): at
	// most one of cgroup v2, any number of v1 hierarchies.
	Cgroups []string
	// Started, if set, is called with the host pid of the container's
	// process (PID 1 of its namespace) once it exists and before it runs
	// anything of the container's: a supervisor records it there. An error
	// kills the container and is returned.
	Started func(pid int) error
	// Execed, if set, is called once the container's command has been
	// found and is being executed: errors after it are the command's own.
	Execed func()
	// Rlimits are set in the container before its command runs (--ulimit).
	Rlimits []Rlimit
	// Security limits what the process may do; the zero value is Docker's
	// default confinement.
	Security Security
}

// DefaultHostname is the container's hostname when Spec.Hostname is empty.
const DefaultHostname = "kiln"

// defaultPath is Docker's PATH for a container whose environment has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ExitError reports a process that exited non-zero; a process killed by
// signal S has Code 128+S, as shells report it.
type ExitError struct {
	Code int
}

func (e *ExitError) Error() string { return "exit code " + strconv.Itoa(e.Code) }

// Option configures a Runner.
type Option func(*Runner)

// WithTempDir sets where the runner keeps per-run files (generated
// /etc/hosts, mountpoints); the default is os.MkdirTemp("", pattern).
func WithTempDir(fn func(pattern string) (string, error)) Option {
	return func(r *Runner) { r.tempDir = fn }
}

// WithRunDir makes Run mount its per-run tmpfs on dir, an existing
// directory that several runs may share at once (each init mounts over it
// in a mount namespace of its own, unseen by the others and the host),
// instead of on a new temp dir made and removed for every run.
func WithRunDir(dir string) Option {
	return func(r *Runner) { r.runDir = dir }
}

// Runner runs processes and copies over layer stacks.
type Runner struct {
	tempDir func(pattern string) (string, error)
	runDir  string
}

// New returns a Runner.
func New(opts ...Option) *Runner {
	r := &Runner{tempDir: func(pattern string) (string, error) { return os.MkdirTemp("", pattern) }}
	for _, o := range opts {
		o(r)
	}
	return r
}

// CopySpec describes one COPY into a destination layer stack.
type CopySpec struct {
	Dest Rootfs // destination filesystem; all writes land in Dest.Upper
	// SrcDir is a plain directory source (the build context) …
	SrcDir string
	// … or SrcLower a stack of layer dirs, bottom first. Exactly one of the
	// two is used: SrcLower is the source when SrcDir is empty, and may be
	// empty meaning an empty filesystem.
	SrcLower []string
	Src      []string // source paths relative to the source root; wildcards as filepath.Match
	Excludes []string // .dockerignore patterns, SrcDir only: excluded files are invisible
	DestPath string   // absolute; a trailing "/" means a directory
	Chown    string   // user[:group], names resolved in the destination's /etc/passwd, /etc/group
	Chmod    string   // octal, applied to every copied file and dir
	// Exclude are COPY --exclude patterns (moby/patternmatcher), relative to
	// each source: a directory source's contents, or a file's name.
	Exclude []string
	// Parents keeps each source's path (after a "/./" pivot, if any) under
	// DestPath, which is then a directory: COPY --parents.
	Parents bool
	// Extract unpacks a source file that is a tar archive into DestPath:
	// ADD's rule.
	Extract bool
	// UsersFrom is a layer stack whose /etc/passwd and /etc/group resolve
	// Chown names, when Dest is not the image (COPY --link).
	UsersFrom []string
}

func (s *Spec) validate() error {
	if len(s.Args) == 0 || s.Args[0] == "" {
		return fmt.Errorf("%w: no command", ErrInvalidSpec)
	}
	if err := s.Names.Validate(); err != nil {
		return err
	}
	if s.Cwd != "" && s.Cwd[0] != '/' {
		return fmt.Errorf("%w: working directory %q is not absolute", ErrInvalidSpec, s.Cwd)
	}
	switch s.Network {
	case "", "host", "none", "bridge":
	default:
		return fmt.Errorf("%w: unknown network mode %q", ErrInvalidSpec, s.Network)
	}
	if err := validateMounts(s.Mounts); err != nil {
		return err
	}
	return s.Rootfs.validate()
}

func (r *Rootfs) validate() error {
	if r.Upper == "" || r.Work == "" {
		return fmt.Errorf("%w: rootfs needs an upper and a work directory", ErrInvalidSpec)
	}
	return nil
}

func (c *CopySpec) validate() error {
	if len(c.Src) == 0 {
		return fmt.Errorf("%w: no source", ErrInvalidSpec)
	}
	if c.DestPath == "" || c.DestPath[0] != '/' {
		return fmt.Errorf("%w: destination %q is not absolute", ErrInvalidSpec, c.DestPath)
	}
	if c.Chmod != "" {
		if _, err := parseChmod(c.Chmod); err != nil {
			return err
		}
	}
	if len(c.Excludes) > 0 && c.SrcDir == "" {
		return fmt.Errorf("%w: excludes apply to a build context only", ErrInvalidSpec)
	}
	return c.Dest.validate()
}

// parseChmod returns the permission bits (with setuid, setgid and sticky) of
// an octal mode, in the kernel's encoding rather than os.FileMode's.
func parseChmod(s string) (uint32, error) {
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 07777 {
		return 0, fmt.Errorf("%w: invalid chmod %q", ErrInvalidSpec, s)
	}
	return uint32(m), nil
}

// kindError is an error whose message came from the init child: it keeps
// the message as is and unwraps to the sentinel the child matched.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

var kinds = map[string]error{
	"notfound": ErrNotFound,
	"user":     ErrUnknownUser,
	"exec":     ErrExecNotFound,
	"invalid":  ErrInvalidSpec,
	"layers":   ErrTooManyLayers,
}

// errKind names the sentinel err wraps, for the trip over the status pipe.
func errKind(err error) string {
	for k, v := range kinds {
		if errors.Is(err, v) {
			return k
		}
	}
	return ""
}

// childError rebuilds an error the init child reported.
func childError(msg, kind string) error {
	return &kindError{msg: msg, kind: kinds[kind]}
}

// Names are a container's own name-resolution settings, as Docker's
// --add-host, --dns and --dns-search give them.
type Names struct {
	ExtraHosts []string `json:",omitempty"` // "name:ip", appended to /etc/hosts
	DNS        []string `json:",omitempty"` // nameservers, replacing the host's
	DNSSearch  []string `json:",omitempty"` // search domains, replacing the host's
}

// Validate checks the entries: hosts as name:ip with a real IP address,
// nameservers as IP addresses, search domains without blanks.
func (n Names) Validate() error {
	for _, h := range n.ExtraHosts {
		name, ip, ok := strings.Cut(h, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t\n") || net.ParseIP(ip) == nil {
			return fmt.Errorf("--add-host %q: want NAME:IP: %w", h, ErrInvalidSpec)
		}
	}
	for _, d := range n.DNS {
		if net.ParseIP(d) == nil {
			return fmt.Errorf("--dns %q: not an IP address: %w", d, ErrInvalidSpec)
		}
	}
	for _, d := range n.DNSSearch {
		if d == "" || strings.ContainsAny(d, " \t\n") {
			return fmt.Errorf("--dns-search %q: not a domain: %w", d, ErrInvalidSpec)
		}
	}
	return nil
}

// Hosts is /etc/hosts for a container named hostname whose address is ip
// ("" is loopback).
func (n Names) Hosts(hostname, ip string) string {
	if ip == "" {
		ip = "127.0.0.1"
	}
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" + ip + "\t" + hostname + "\n")
	for _, h := range n.ExtraHosts {
		name, ip, _ := strings.Cut(h, ":")
		b.WriteString(ip + "\t" + name + "\n")
	}
	return b.String()
}

// resolv applies --dns and --dns-search to a resolv.conf, as Docker does:
// given ones replace the file's nameserver or search lines.
func (n Names) resolv(conf string) string {
	if len(n.DNS) == 0 && len(n.DNSSearch) == 0 {
		return conf
	}
	var out []string
	for _, line := range strings.Split(strings.TrimRight(conf, "\n"), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && (f[0] == "nameserver" && len(n.DNS) > 0 || (f[0] == "search" || f[0] == "domain") && len(n.DNSSearch) > 0) {
			continue
		}
		if strings.TrimSpace(line) != "" {
			out = append(out, line)
		}
	}
	for _, d := range n.DNS {
		out = append(out, "nameserver "+d)
	}
	if len(n.DNSSearch) > 0 {
		out = append(out, "search "+strings.Join(n.DNSSearch, " "))
	}
	return strings.Join(out, "\n") + "\n"
}
