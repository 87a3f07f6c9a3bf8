package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Run runs s.Args in new namespaces over s.Rootfs and waits for it. A
// non-zero exit is an *ExitError; cancelling ctx kills the container and
// returns ctx's cause.
func (r *Runner) Run(ctx context.Context, s Spec) error {
	if err := s.validate(); err != nil {
		return err
	}
	if s.Cwd == "" {
		s.Cwd = "/"
	}
	if s.Hostname == "" {
		s.Hostname = DefaultHostname
	}
	var err error
	dir := r.runDir
	if dir == "" {
		if dir, err = r.tempDir("kiln-run-"); err != nil {
			return fmt.Errorf("create run dir: %w", err)
		}
		defer os.RemoveAll(dir)
	}
	cfg := &runConfig{
		Dir: dir, Etc: etcFiles(s), HostsFile: s.HostsFile,
		Rootfs: s.Rootfs, Args: s.Args, Env: s.Env, Cwd: s.Cwd, User: s.User,
		Hostname: s.Hostname, NewNet: s.Network == "none" || s.Network == "bridge", Tty: s.Tty,
		Mounts: childMounts(s.Mounts), Rlimits: s.Rlimits, Init: s.Init,
	}
	if cfg.Security, err = s.Security.resolve(); err != nil {
		return err
	}
	flags := unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWCGROUP
	if cfg.NewNet {
		flags |= unix.CLONE_NEWNET
	}
	cmd, err := initCommand(uintptr(flags))
	if err != nil {
		return err
	}

	var ios ioSetup
	defer ios.close()
	var devices *deviceCgroup
	if !s.Security.Privileged {
		if devices, err = newDeviceCgroup(); err != nil {
			return err
		}
		defer devices.remove()
		cfg.Security.NoDev = devices == nil
	}
	if s.Tty {
		if err := ios.tty(cmd, s.Stdin, s.Stdout); err != nil {
			return err
		}
		cfg.Console = ios.slave.Name()
	} else if err := ios.pipes(cmd, s.Stdin, s.Stdout, s.Stderr); err != nil {
		return err
	}
	// The init starts in the devices cgroup and the caller's, so nothing
	// of it runs outside them (cgroup_linux.go).
	cgroups := s.Cgroups
	if devices != nil {
		cgroups = append([]string{devices.dir}, cgroups...)
	}
	birth, err := newCgroupBirth(cmd, cgroups)
	if err != nil {
		return err
	}
	defer birth.close()
	started := ios.startedThen(s.Started)
	res, err := runInit(ctx, cmd, birth, initConfig{Run: cfg}, s.Signals, started, s.Execed)
	if !s.Rootfs.Volatile {
		// A volatile upper is thrown away with its container: no layer
		// is made of it, so its stubs need no tidying (~0.25 ms).
		removeStubs(s.Rootfs.Upper, res.created)
	}
	ios.wait()
	if err != nil {
		return err
	}
	if !res.execed {
		return fmt.Errorf("container init exited before exec: %s", res.state)
	}
	return exitError(res.state)
}

// Copy copies c.Src from the source into c.Dest with Docker's COPY
// semantics. The overlays are mounted, and the copy done, in a child with a
// private mount namespace.
func (r *Runner) Copy(ctx context.Context, c CopySpec) error {
	if err := c.validate(); err != nil {
		return err
	}
	dir, err := r.tempDir("kiln-copy-")
	if err != nil {
		return fmt.Errorf("create copy dir: %w", err)
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"dest", "src", "empty", "users"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("create copy dir: %w", err)
		}
	}
	cfg := &copyConfig{
		Dir: dir, Dest: c.Dest, SrcDir: c.SrcDir, SrcLower: c.SrcLower, Src: c.Src,
		Excludes: c.Excludes, DestPath: c.DestPath, Chown: c.Chown, Chmod: c.Chmod,
		Exclude: c.Exclude, Parents: c.Parents, Extract: c.Extract, UsersFrom: c.UsersFrom,
	}
	cmd, err := initCommand(unix.CLONE_NEWNS)
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	res, err := runInit(ctx, cmd, nil, initConfig{Copy: cfg}, nil, nil, nil)
	if err != nil {
		return err
	}
	if !res.state.Success() {
		return fmt.Errorf("copy init %s: %s", res.state, strings.TrimSpace(lastLine(stderr.String())))
	}
	return nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func initCommand(cloneflags uintptr) (*exec.Cmd, error) {
	exe, err := sealedExe()
	if err != nil {
		return nil, err
	}
	cmd := &exec.Cmd{
		Path: exe,
		Args: []string{initArg0},
		// GOMAXPROCS is this process's, which the init's runtime would
		// otherwise work out again at its start from /proc/self/cgroup,
		// mountinfo and the CFS quota. The container's command gets its
		// own environment, not the init's.
		Env: []string{initEnv, "GOMAXPROCS=" + strconv.Itoa(runtime.GOMAXPROCS(0))},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: cloneflags,
			Pdeathsig:  syscall.SIGKILL,
		},
	}
	return cmd, nil
}

func exitError(st *os.ProcessState) error {
	ws, ok := st.Sys().(syscall.WaitStatus)
	switch {
	case !ok:
		if st.Success() {
			return nil
		}
		return &ExitError{Code: st.ExitCode()}
	case ws.Signaled():
		return &ExitError{Code: 128 + int(ws.Signal())}
	case ws.ExitStatus() != 0:
		return &ExitError{Code: ws.ExitStatus()}
	}
	return nil
}

type initResult struct {
	created []string
	execed  bool
	state   *os.ProcessState
}

// runInit starts the init child in birth's cgroups, sends it cfg, collects
// its reports, forwards signals and waits. An error the child reported is
// returned as is; ctx's cancellation kills it.
func runInit(ctx context.Context, cmd *exec.Cmd, birth *cgroupBirth, cfg initConfig, signals <-chan os.Signal, started func(pid int) error, execed func()) (initResult, error) {
	var res initResult
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return res, err
	}
	defer cfgW.Close()
	statR, statW, err := os.Pipe()
	if err != nil {
		cfgR.Close()
		return res, err
	}
	defer statR.Close()
	cmd.ExtraFiles = []*os.File{cfgR, statW}
	cfg.Cgroups = birth.selfJoined()
	waited, err := startLocked(cmd, birth)
	cfgR.Close()
	statW.Close()
	if err != nil {
		return res, fmt.Errorf("start init: %w", err)
	}
	if err := birth.joinLate(cmd.Process.Pid); err != nil {
		_ = cmd.Process.Kill()
		<-waited
		cfgW.Close()
		return res, err
	}
	if started != nil {
		// The child blocks reading its config until the goroutine below
		// sends it: nothing of the container has run yet.
		if err := started(cmd.Process.Pid); err != nil {
			_ = cmd.Process.Kill()
			<-waited
			cfgW.Close()
			return res, err
		}
	}
	go func() {
		// The child may die before reading; it is waited for below.
		_ = json.NewEncoder(cfgW).Encode(cfg)
		cfgW.Close()
	}()
	var childErr error
	reported := make(chan struct{})
	go func() {
		defer close(reported)
		dec := json.NewDecoder(statR)
		for {
			var m initMsg
			if err := dec.Decode(&m); err != nil {
				return
			}
			res.created = append(res.created, m.Created...)
			if m.Exec && !res.execed && execed != nil {
				execed()
			}
			res.execed = res.execed || m.Exec
			if m.Error != "" && childErr == nil {
				childErr = childError(m.Error, m.Kind)
			}
		}
	}()

	var cause error
	for res.state == nil {
		select {
		case <-ctx.Done():
			if cause == nil {
				cause = context.Cause(ctx)
				// PID 1 of the namespace: the kernel kills the rest.
				_ = cmd.Process.Kill()
			}
		case sig := <-signals:
			_ = cmd.Process.Signal(sig)
		case err := <-waited:
			if cmd.ProcessState == nil {
				return res, fmt.Errorf("wait init: %w", err)
			}
			res.state = cmd.ProcessState
		}
	}
	<-reported
	switch {
	case cause != nil:
		return res, cause
	case childErr != nil:
		return res, childErr
	}
	return res, nil
}

// startLocked starts cmd, in birth's cgroups, from a thread that stays
// locked until Wait returns: the kernel sends Pdeathsig when the creating
// thread exits, not the process.
func startLocked(cmd *exec.Cmd, birth *cgroupBirth) (<-chan error, error) {
	started := make(chan error, 1)
	waited := make(chan error, 1)
	go func() {
		// Never unlocked: the thread exits with this goroutine, after the
		// child is gone, or at once if it could not leave the cgroups it
		// joined for the fork.
		runtime.LockOSThread()
		if err := birth.enter(); err != nil {
			started <- err
			return
		}
		err := cmd.Start()
		if lerr := birth.leave(); lerr != nil {
			if err == nil {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			}
			started <- lerr
			return
		}
		if err != nil {
			started <- err
			return
		}
		started <- nil
		waited <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return waited, nil
}

// removeStubs takes the mount targets the child created out of upper, if
// they are still empty: a RUN leaves no trace of its mounts in the layer.
func removeStubs(upper string, created []string) {
	for i := len(created) - 1; i >= 0; i-- {
		rel := created[i]
		if !filepath.IsLocal(rel) || !noSymlinks(upper, rel) {
			continue
		}
		p := filepath.Join(upper, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		switch {
		case fi.Mode().IsRegular() && fi.Size() == 0:
			_ = os.Remove(p)
		case fi.IsDir() && !isOpaque(p):
			_ = unix.Rmdir(p) // fails, as it should, unless empty
		}
	}
}

// noSymlinks reports whether every parent of rel inside root is a real
// directory, so that removing root/rel cannot reach outside root.
func noSymlinks(root, rel string) bool {
	cur := root
	elems := strings.Split(filepath.Dir(rel), string(filepath.Separator))
	for _, e := range elems {
		if e == "." {
			break
		}
		cur = filepath.Join(cur, e)
		fi, err := os.Lstat(cur)
		if err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// isOpaque reports an overlay opaque directory: it hides the lower layers,
// so it is content even when empty.
func isOpaque(p string) bool {
	buf := make([]byte, 4)
	for _, attr := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		if n, err := unix.Lgetxattr(p, attr, buf); err == nil && n > 0 {
			return true
		}
	}
	return false
}

// etcFiles are the contents of the files the init binds over /etc/hosts
// (unless s.HostsFile is bound instead), /etc/resolv.conf and
// /etc/hostname.
func etcFiles(s Spec) map[string]string {
	host, _ := os.ReadFile("/etc/resolv.conf")
	files := map[string]string{
		"hostname":    s.Hostname + "\n",
		"resolv.conf": s.Names.resolv(resolvConf(string(host), s.Network == "" || s.Network == "host")),
	}
	if s.HostsFile == "" {
		files["hosts"] = s.Names.Hosts(s.Hostname, "")
	}
	return files
}

// resolvConf derives the container's resolv.conf from the host's as Docker
// does: as is on the host network; elsewhere without loopback nameservers,
// which would point into the container, and with public ones if none is left.
func resolvConf(host string, hostNet bool) string {
	if hostNet && strings.Contains(host, "nameserver") {
		return host
	}
	var out []string
	ns := 0
	for _, line := range strings.Split(host, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if strings.HasPrefix(f[1], "127.") || f[1] == "::1" {
				continue
			}
			ns++
		}
		if strings.TrimSpace(line) != "" {
			out = append(out, line)
		}
	}
	if ns == 0 {
		out = append(out, "nameserver 8.8.8.8", "nameserver 8.8.4.4")
	}
	return strings.Join(out, "\n") + "\n"
}
