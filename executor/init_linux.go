package executor

// The parent/child handshake. kiln (the parent) never mounts; it re-executes
// itself as "kiln-init" in new namespaces and that child does every mount, so
// the mounts die with it.
//
//	parent (Run / Copy)                        child (kiln-init, MaybeInit)
//	    |                                          |
//	    |-- clone(NEWNS|NEWPID|…), Pdeathsig ----->|  fd 3: config pipe (read)
//	    |                                          |  fd 4: status pipe (write, CLOEXEC)
//	    |-- initConfig (JSON) on fd 3, close ----->|
//	    |                                          |  mount --make-rprivate /
//	    |                                          |  mount overlay, /proc, /dev, /sys, /etc/…
//	    |<------------- {"created":[…]} on fd 4 ---|  stubs it made in the rootfs
//	    |                                          |  pivot_root, masked paths, user, seccomp*,
//	    |                                          |  bounding set, setuid, capset, pdeathsig,
//	    |                                          |  close_range, no_new_privs, seccomp*
//	    |<------------- {"exec":true} -------------|
//	    |<------------- {"error":…,"kind":…} ------|  only if something failed, then exit
//	    |<------------- EOF (fd 4 closed by exec) -|  execve(Args): PID 1 of its namespace
//	    |                                          |
//	    |-- signals (kill) ----------------------->|
//	    |<-- wait4: exit status -------------------|
//	    |   remove the stubs from Upper
//
// The child is started from kiln through a private read-only overlay, or a
// sealed memfd copy (sealed_linux.go);
// seccomp* goes in before setuid or just before exec (caps_linux.go).
//
// For Copy the child mounts the overlays and copies in-process, then sends
// {"error":…} or just exits 0.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

const (
	initArg0 = "kiln-init"
	initEnv  = "_KILN_INIT=1"
)

// initConfig is what the parent sends the child on fd 3.
type initConfig struct {
	Run  *runConfig  `json:",omitempty"`
	Copy *copyConfig `json:",omitempty"`
	Exec *execConfig `json:",omitempty"`
	// Cgroups are v1 cgroups with a pids limit, which the init's thread
	// joins itself first thing (cgroup_linux.go).
	Cgroups []string `json:",omitempty"`
}

type runConfig struct {
	Dir string            // the run's temp dir, empty: the init mounts its tmpfs there
	Etc map[string]string // hosts, resolv.conf, hostname: their contents
	// HostsFile, if set, is bound as /etc/hosts instead of Etc's: the
	// caller rewrites it in place as peers come and go.
	HostsFile string `json:",omitempty"`
	Rootfs    Rootfs
	Args      []string
	Env       []string
	Cwd       string
	User      string
	Hostname  string
	NewNet    bool
	Tty       bool
	Console   string // the pty slave's path, bind-mounted on /dev/console
	Init      bool   // stay PID 1 and reap (init_reaper_linux.go)

	// Mounts are RUN --mount's, in mount order (see mount_linux.go).
	Mounts []Mount

	Rlimits []Rlimit `json:",omitempty"`

	// Security is what the container may do (caps_linux.go).
	Security *secConfig
}

type copyConfig struct {
	Dir      string // the copy's temp dir: dest/, src/, empty/
	Dest     Rootfs
	SrcDir   string
	SrcLower []string
	Src      []string
	Excludes []string
	DestPath string
	Chown    string
	Chmod    string

	// COPY --exclude, --parents, --link and ADD's extraction (copyflags_linux.go).
	Exclude   []string
	Parents   bool
	Extract   bool
	UsersFrom []string
}

// initMsg is what the child reports on fd 4.
type initMsg struct {
	Created []string `json:",omitempty"`
	Exec    bool     `json:",omitempty"`
	Error   string   `json:",omitempty"`
	Kind    string   `json:",omitempty"`
}

// MaybeInit must be the first thing main (and a test binary's TestMain)
// calls: if this process is the re-executed init, it runs the child side and
// exits; otherwise it returns.
func MaybeInit() {
	if len(os.Args) == 0 || os.Args[0] != initArg0 || !hasEnv(os.Environ(), initEnv) {
		return
	}
	// pdeathsig and the final execve belong to one thread: keep it.
	runtime.LockOSThread()
	status := os.NewFile(4, "status")
	unix.CloseOnExec(4)
	enc := json.NewEncoder(status)
	err := initMain(enc)
	if err != nil {
		_ = enc.Encode(initMsg{Error: err.Error(), Kind: errKind(err)})
		os.Exit(1)
	}
	os.Exit(0)
}

func hasEnv(env []string, kv string) bool {
	for _, e := range env {
		if e == kv {
			return true
		}
	}
	return false
}

func initMain(enc *json.Encoder) error {
	f := os.NewFile(3, "config")
	var cfg initConfig
	err := json.NewDecoder(f).Decode(&cfg)
	f.Close()
	if err != nil {
		return fmt.Errorf("read init config: %w", err)
	}
	if err := joinSelf(cfg.Cgroups); err != nil {
		return err
	}
	if cfg.Exec != nil {
		// In the host's mount namespace until it joins the container's:
		// nothing to make private, nothing to mount.
		return initExec(cfg.Exec, enc)
	}
	// Nothing mounted below may ever propagate to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / rprivate: %w", err)
	}
	switch {
	case cfg.Run != nil:
		return initRun(cfg.Run, enc)
	case cfg.Copy != nil:
		return initCopy(cfg.Copy)
	}
	return errors.New("init config names no operation")
}

// overlayOptions builds the mount data for a stack of layers; overlayfs
// wants the top layer first.
func overlayOptions(lower []string, empty, upper, work string) (string, error) {
	if len(lower) == 0 {
		lower = []string{empty}
	}
	esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`, `,`, `\,`)
	ls := make([]string, len(lower))
	for i, l := range lower {
		ls[len(lower)-1-i] = esc.Replace(l)
	}
	opts := "lowerdir=" + strings.Join(ls, ":")
	if upper != "" {
		opts += ",upperdir=" + esc.Replace(upper) + ",workdir=" + esc.Replace(work)
		// Upper becomes a layer diff: renamed directories and metadata-only
		// copy-ups have no OCI form, so never let the kernel make them,
		// whatever the module defaults are.
		opts += ",redirect_dir=off,metacopy=off"
	}
	// The kernel copies mount data into a single page.
	if len(opts) >= os.Getpagesize() {
		return "", fmt.Errorf("%w: %d layers need %d bytes of mount options", ErrTooManyLayers, len(lower), len(opts))
	}
	return opts, nil
}

func mountOverlay(target string, lower []string, empty, upper, work string) error {
	opts, err := overlayOptions(lower, empty, upper, work)
	if err != nil {
		return err
	}
	var flags uintptr
	if upper == "" {
		flags = unix.MS_RDONLY
	}
	if err := unix.Mount("overlay", target, "overlay", flags, opts); err != nil {
		return fmt.Errorf("mount overlay: %w", err)
	}
	return nil
}

// mountRootfs mounts r on target, volatile if r says so (see Rootfs).
func mountRootfs(target string, r Rootfs, empty string) error {
	if !r.Volatile {
		return mountOverlay(target, r.Lower, empty, r.Upper, r.Work)
	}
	opts, err := overlayOptions(r.Lower, empty, r.Upper, r.Work)
	if err != nil {
		return err
	}
	if len(opts)+len(",volatile") >= os.Getpagesize() {
		return mountOverlay(target, r.Lower, empty, r.Upper, r.Work)
	}
	err = unix.Mount("overlay", target, "overlay", 0, opts+",volatile")
	if marker := filepath.Join(r.Work, "work", "incompat", "volatile"); err != nil && exists(marker) {
		// Overlayfs leaves this marker (a directory holding "dirty") after
		// a volatile mount and refuses the upper while it is there, in case
		// a crash lost writes to it. A Volatile upper is disposable: this
		// is a --rm container started again after its supervisor was killed.
		if err = os.RemoveAll(marker); err == nil {
			err = unix.Mount("overlay", target, "overlay", 0, opts+",volatile")
		}
	}
	if err != nil {
		// Before Linux 5.10 there is no volatile: mount it durable.
		return mountOverlay(target, r.Lower, empty, r.Upper, r.Work)
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// stubs creates mount targets inside the merged rootfs and remembers which
// ones it created (and which directories creating them copied up), so the
// parent can take them out of Upper afterwards, as BuildKit does.
type stubs struct {
	root, upper string
	created     []string
}

func (s *stubs) record(rel string) {
	for _, c := range s.created {
		if c == rel {
			return
		}
	}
	s.created = append(s.created, rel)
}

// ensure resolves p inside the rootfs and creates it (a dir, or an empty
// file) if missing, returning the host path to mount on.
func (s *stubs) ensure(p string, dir bool) (string, error) {
	full, err := securejoin.SecureJoin(s.root, p)
	if err != nil {
		return "", fmt.Errorf("resolve %s in rootfs: %w", p, err)
	}
	if _, err := os.Lstat(full); err == nil {
		return full, nil
	}
	rel, err := filepath.Rel(s.root, full)
	if err != nil {
		return "", err
	}
	parts := strings.Split(rel, string(filepath.Separator))
	for i := range parts {
		sub := filepath.Join(parts[:i+1]...)
		fp := filepath.Join(s.root, sub)
		last := i == len(parts)-1
		if _, err := os.Lstat(fp); err == nil {
			// A directory only in a lower layer is copied up into Upper
			// when we create something in it.
			if _, err := os.Lstat(filepath.Join(s.upper, sub)); err != nil {
				s.record(sub)
			}
			continue
		}
		// Never by name: a parent may be in a cache mount another step
		// is changing (target_linux.go).
		if err := createInRoot(s.root, sub, dir || !last); err != nil {
			return "", fmt.Errorf("create mount target %s: %w", p, err)
		}
		s.record(sub)
	}
	return full, nil
}

func initRun(c *runConfig, enc *json.Encoder) error {
	if c.Security == nil {
		return fmt.Errorf("%w: no security settings", ErrInvalidSpec)
	}
	if err := runDir(c); err != nil {
		return err
	}
	root := filepath.Join(c.Dir, "rootfs")
	if err := mountRootfs(root, c.Rootfs, filepath.Join(c.Dir, "empty")); err != nil {
		return err
	}
	if c.Security.NoDev {
		if err := nodevRootfs(root); err != nil {
			return err
		}
	}
	st := &stubs{root: root, upper: c.Rootfs.Upper}
	err := setupRootfs(c, st)
	// Report the stubs even when setup failed half way.
	if eerr := enc.Encode(initMsg{Created: st.created}); eerr != nil && err == nil {
		err = eerr
	}
	if err != nil {
		return err
	}
	if c.NewNet {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if err := unix.Sethostname([]byte(c.Hostname)); err != nil {
		return fmt.Errorf("set hostname: %w", err)
	}
	if err := pivotRoot(root); err != nil {
		return err
	}
	sec := c.Security
	if !sec.NoMask {
		if err := maskPaths(); err != nil {
			return err
		}
	}
	u, err := lookupUser(c.User)
	if err != nil {
		return err
	}
	env := containerEnv(c.Env, u.Home, c.Tty)
	if err := os.Chdir(c.Cwd); err != nil {
		return fmt.Errorf("chdir %s: %w", c.Cwd, err)
	}
	if err := setRlimits(c.Rlimits); err != nil {
		return err
	}
	if err := sec.becomeUser(u); err != nil {
		return err
	}
	// Changing credentials cleared the parent-death signal; re-arm it so a
	// kill -9 of kiln still takes the container down.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("set pdeathsig: %w", err)
	}
	path, err := lookPath(c.Args[0], lookupEnv(env, "PATH"))
	if err != nil {
		return err
	}
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close fds: %w", err)
	}
	if err := sec.beforeExec(); err != nil {
		return err
	}
	if c.Init {
		return execReaper(path, c.Args, env, enc)
	}
	if err := enc.Encode(initMsg{Exec: true}); err != nil {
		return err
	}
	err = syscall.Exec(path, c.Args, env)
	return &kindError{msg: fmt.Sprintf("exec %q: %v", c.Args[0], err), kind: ErrExecNotFound}
}

// runDir mounts a tmpfs on the run's directory, seen by this mount
// namespace only, and makes the rootfs mountpoint, the empty scratch layer
// and the files bound over /etc/hosts, /etc/resolv.conf and /etc/hostname
// in it. None of them ever reaches the store's disk, where removing them
// after every run cost milliseconds, and they vanish with the init.
func runDir(c *runConfig) error {
	if err := unix.Mount("tmpfs", c.Dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755,size=4m"); err != nil {
		return fmt.Errorf("mount run dir: %w", err)
	}
	for _, d := range []string{"rootfs", "empty"} {
		if err := os.Mkdir(filepath.Join(c.Dir, d), 0o755); err != nil {
			return fmt.Errorf("create run dir: %w", err)
		}
	}
	for name, content := range c.Etc {
		if err := os.WriteFile(filepath.Join(c.Dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

// lookPath finds file in pathEnv as execvp would, with Docker's wording.
func lookPath(file, pathEnv string) (string, error) {
	notFound := func(why string) error {
		return &kindError{msg: fmt.Sprintf("exec %q: %s", file, why), kind: ErrExecNotFound}
	}
	check := func(p string) error {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return syscall.EISDIR
		}
		return unix.Access(p, unix.X_OK)
	}
	if strings.Contains(file, "/") {
		if err := check(file); err != nil {
			if os.IsNotExist(err) {
				return "", notFound("no such file or directory")
			}
			return "", notFound(err.Error())
		}
		return file, nil
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if check(p) == nil {
			return p, nil
		}
	}
	return "", notFound("executable file not found in $PATH")
}

func setupRootfs(c *runConfig, st *stubs) error {
	root := st.root
	mnt := func(src, target, fstype string, flags uintptr, data string) error {
		if err := unix.Mount(src, target, fstype, flags, data); err != nil {
			return fmt.Errorf("mount %s on %s: %w", fstype, strings.TrimPrefix(target, root), err)
		}
		return nil
	}
	p, err := st.ensure("/proc", true)
	if err != nil {
		return err
	}
	if err := mnt("proc", p, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	dev, err := st.ensure("/dev", true)
	if err != nil {
		return err
	}
	if err := mnt("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME|devTmpfsFlags(c.Security), "mode=755,size=65536k"); err != nil {
		return err
	}
	// /dev is our tmpfs now, nothing below it touches the layer.
	devices := []string{"null", "zero", "full", "random", "urandom", "tty"}
	if c.Console != "" {
		devices = append(devices, "console")
	}
	for _, d := range devices {
		target := filepath.Join(dev, d)
		if err := os.WriteFile(target, nil, 0o666); err != nil {
			return fmt.Errorf("create /dev/%s: %w", d, err)
		}
		src := "/dev/" + d
		if d == "console" {
			src = c.Console
		}
		if err := mnt(src, target, "bind", unix.MS_BIND, ""); err != nil {
			return err
		}
	}
	for _, d := range []string{"pts", "shm", "mqueue"} {
		if err := os.Mkdir(filepath.Join(dev, d), 0o755); err != nil {
			return fmt.Errorf("create /dev/%s: %w", d, err)
		}
	}
	if err := mnt("devpts", filepath.Join(dev, "pts"), "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return err
	}
	if err := mnt("shm", filepath.Join(dev, "shm"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k"); err != nil {
		return err
	}
	if err := mnt("mqueue", filepath.Join(dev, "mqueue"), "mqueue", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	for name, target := range map[string]string{
		"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2", "core": "/proc/kcore",
	} {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return fmt.Errorf("create /dev/%s: %w", name, err)
		}
	}
	sys, err := st.ensure("/sys", true)
	if err != nil {
		return err
	}
	sysFlags := uintptr(unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if err := unix.Mount("sysfs", sys, "sysfs", sysFlags, ""); err != nil {
		// Without a network namespace of our own the kernel may refuse a
		// new sysfs; the host's, bound read-only, shows the same.
		if !errors.Is(err, unix.EPERM) || c.NewNet {
			return fmt.Errorf("mount sysfs on /sys: %w", err)
		}
		if err := mnt("/sys", sys, "bind", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
		if err := mnt("", sys, "", unix.MS_BIND|unix.MS_REMOUNT|sysFlags, ""); err != nil {
			return err
		}
	}
	// Generated files live in the temp dir and are bound over the rootfs's,
	// so they never land in a layer.
	for _, f := range []string{"hosts", "resolv.conf", "hostname"} {
		target, err := st.ensure("/etc/"+f, false)
		if err != nil {
			return err
		}
		src := filepath.Join(c.Dir, f)
		if f == "hosts" && c.HostsFile != "" {
			src = c.HostsFile
		}
		if err := mnt(src, target, "bind", unix.MS_BIND, ""); err != nil {
			return err
		}
	}
	if err := setupMounts(c, st); err != nil {
		return err
	}
	// The working directory is real content: it lands in the layer, as
	// with Docker.
	cwd, err := securejoin.SecureJoin(root, c.Cwd)
	if err != nil {
		return fmt.Errorf("resolve working directory %s: %w", c.Cwd, err)
	}
	resolved := "/" + strings.TrimPrefix(strings.TrimPrefix(cwd, root), "/")
	if err := mkdirAllInRoot(root, resolved); err != nil {
		return fmt.Errorf("create working directory %s: %w", c.Cwd, err)
	}
	c.Cwd = resolved
	return nil
}

func pivotRoot(root string) error {
	if err := os.Chdir(root); err != nil {
		return fmt.Errorf("chdir rootfs: %w", err)
	}
	// pivot_root(".", ".") stacks the old root on top of the new one, so it
	// can be detached without a directory to park it in.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	if err := os.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return nil
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	return nil
}
