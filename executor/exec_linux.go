package executor

// Exec enters a running container. Joining a pid namespace only affects
// children, and joining a mount namespace is refused to a thread sharing
// its filesystem context with others, so the helper goes like this:
//
//	parent (Exec)                         helper (kiln-init, initExec)
//	    |-- start, plain (no clone flags) ---->|
//	    |-- Started(pid): cgroup --------------|
//	    |-- initConfig{Exec} on fd 3 --------->|  open /proc/PID/ns/{ipc,uts,net,pid,mnt}
//	    |                                      |  unshare(CLONE_FS) on its locked thread
//	    |                                      |  setns each; mnt last: / and cwd are the container's
//	    |                                      |  resolve user in the container's /etc/passwd
//	    |<------------- {"exec":true} ---------|
//	    |                                      |-- fork (same thread) --> process, in the
//	    |-- signals ------------------------->|-- forwarded -----------> container's pid ns
//	    |<-- exit status (the process's) ------|<-- wait4 ---------------|

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

type execConfig struct {
	Pid  int
	Args []string
	Env  []string
	Cwd  string
	User string
	Tty  bool

	// Security is the container's, applied to the helper before it
	// starts the process (execsec_linux.go).
	Security *secConfig
}

// Exec runs s.Args inside the running container of s.Pid and waits for it.
// A non-zero exit is an *ExitError.
func (r *Runner) Exec(ctx context.Context, s ExecSpec) error {
	if err := s.validate(); err != nil {
		return err
	}
	if s.Cwd == "" {
		s.Cwd = "/"
	}
	cfg := &execConfig{Pid: s.Pid, Args: s.Args, Env: s.Env, Cwd: s.Cwd, User: s.User, Tty: s.Tty}
	var err error
	if cfg.Security, err = s.Security.resolve(); err != nil {
		return err
	}
	cmd, err := initCommand(0)
	if err != nil {
		return err
	}
	var ios ioSetup
	defer ios.close()
	if s.Tty {
		if err := ios.tty(cmd, s.Stdin, s.Stdout); err != nil {
			return err
		}
		// The process the helper starts makes the pty its controlling
		// terminal; the helper must not hold it for that.
		cmd.SysProcAttr.Setctty = false
	} else if err := ios.pipes(cmd, s.Stdin, s.Stdout, s.Stderr); err != nil {
		return err
	}
	// The helper, and so the process, starts in the container's devices
	// cgroup (execsec_linux.go) and the caller's.
	devices, err := devicesCgroupOf(s.Pid)
	if err != nil {
		return err
	}
	birth, err := newCgroupBirth(cmd, append([]string{devices}, s.Cgroups...))
	if err != nil {
		return err
	}
	defer birth.close()
	res, err := runInit(ctx, cmd, birth, initConfig{Exec: cfg}, s.Signals, ios.startedThen(s.Started), nil)
	ios.wait()
	if err != nil {
		return err
	}
	if !res.execed {
		return fmt.Errorf("exec helper exited before starting the process: %s", res.state)
	}
	return exitError(res.state)
}

// initExec is the helper's side: it runs on the thread MaybeInit locked.
func initExec(c *execConfig, enc *json.Encoder) error {
	// Open every namespace before entering any: /proc is the host's until
	// the mount namespace changes.
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, ns := range []string{"ipc", "uts", "net", "pid", "mnt"} {
		p := "/proc/" + strconv.Itoa(c.Pid) + "/ns/" + ns
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open container namespace %s: %w", ns, err)
		}
		fds = append(fds, fd)
	}
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare fs: %w", err)
	}
	for i, fd := range fds {
		if err := unix.Setns(fd, 0); err != nil {
			return fmt.Errorf("join container namespace %d: %w", i, err)
		}
	}
	u, err := lookupUser(c.User)
	if err != nil {
		return err
	}
	env := containerEnv(c.Env, u.Home, c.Tty)
	// The helper changes directory itself, on its own fs context, and the
	// process inherits it: resolved by the forked child instead,
	// /proc/self/fd/N would name the helper's fds, which include host
	// directories until exec closes them (CVE-2024-21626).
	if err := os.Chdir(c.Cwd); err != nil {
		return &kindError{msg: fmt.Sprintf("chdir %s: no such directory in the container", c.Cwd), kind: ErrInvalidSpec}
	}
	path, err := lookPath(c.Args[0], lookupEnv(env, "PATH"))
	if err != nil {
		return err
	}
	cmd := &exec.Cmd{
		Path: path, Args: c.Args, Env: env,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{
			// The helper itself becomes the user (confineHelper), so the
			// process needs no Credential.
			// No Pdeathsig: Go's fork checks getppid() against the parent's
			// pid to honour it, and across a pid namespace the parent reads
			// as 0, so the child would kill itself at once.
		},
	}
	if c.Tty {
		cmd.SysProcAttr.Setsid = true
		cmd.SysProcAttr.Setctty = true
	}
	if err := c.Security.confineHelper(u); err != nil {
		return err
	}
	// Signals for the process come to the helper first.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs)
	if err := enc.Encode(initMsg{Exec: true}); err != nil {
		return err
	}
	// Forked from this thread, which is in the container's pid namespace.
	if err := cmd.Start(); err != nil {
		return &kindError{msg: fmt.Sprintf("exec %q: %v", c.Args[0], err), kind: ErrExecNotFound}
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs:
				if sig != syscall.SIGCHLD && sig != syscall.SIGURG && sig != syscall.SIGWINCH {
					_ = cmd.Process.Signal(sig)
				}
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			os.Exit(128 + int(ws.Signal()))
		}
		os.Exit(ee.ExitCode())
	}
	if err != nil {
		return fmt.Errorf("wait: %w", err)
	}
	os.Exit(0)
	return nil
}

// lookupUser resolves spec (as Spec.User) in the /etc/passwd and /etc/group
// of the root this process now has.
func lookupUser(spec string) (execUser, error) {
	users, err := readDB("/etc/passwd", parsePasswd)
	if err != nil {
		return execUser{}, fmt.Errorf("read /etc/passwd: %w", err)
	}
	groups, err := readDB("/etc/group", parseGroup)
	if err != nil {
		return execUser{}, fmt.Errorf("read /etc/group: %w", err)
	}
	return resolveUser(spec, users, groups)
}

// startedThen is the runInit hook that hands the child its streams, then
// calls fn (if any) with its pid.
func (s *ioSetup) startedThen(fn func(pid int) error) func(pid int) error {
	return func(pid int) error {
		s.started()
		if fn != nil {
			return fn(pid)
		}
		return nil
	}
}
