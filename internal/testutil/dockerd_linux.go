package testutil

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/mountinfo"
)

const (
	// startTimeout bounds the wait for a new dockerd to answer.
	startTimeout = 60 * time.Second
	// stopTimeout is how long Stop lets dockerd shut down after SIGTERM
	// (it gives running containers --shutdown-timeout first) before
	// killing it.
	stopTimeout = 30 * time.Second
	// sweepTimeout is how long Stop waits for killed leftovers to die.
	sweepTimeout = 10 * time.Second
	// longestSocket is the longest socket path dockerd 20.10 makes under
	// its directory (its containerd's debug socket). A unix socket path
	// holds at most 107 bytes, so Dir must be short: os.TempDir(), not a
	// test's t.TempDir().
	longestSocket = "/exec/containerd/containerd-debug.sock"
	maxSocketPath = 107
)

// StartDockerd starts a private Docker engine in a new directory under
// parent (the system temp dir when parent is "") and waits until it
// answers `docker info`. The error wraps ErrNoDockerd when dockerd or the
// docker CLI is missing, and otherwise ends with the tail of dockerd's log.
// The caller must Stop the engine.
func StartDockerd(parent string) (*Dockerd, error) {
	dockerd, docker, err := dockerBinaries()
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("start dockerd: needs root")
	}
	// overlay2 where dockerd can set it up, vfs elsewhere. dockerd itself
	// decides, not OverlayError: that probe can leave the test binary's
	// main thread in a private mount namespace (see mountsUnder), which
	// every later reader of /proc/self/mountinfo would see.
	d, err := startDockerd(dockerd, docker, parent, "overlay2")
	if errors.Is(err, errGraphdriver) {
		d, err = startDockerd(dockerd, docker, parent, "vfs")
	}
	return d, err
}

func dockerBinaries() (dockerd, docker string, err error) {
	dockerd, err = exec.LookPath("dockerd")
	if err != nil {
		return "", "", ErrNoDockerd
	}
	docker, err = exec.LookPath("docker")
	if err != nil {
		return "", "", fmt.Errorf("no docker CLI: %w", ErrNoDockerd)
	}
	return dockerd, docker, nil
}

// startDockerd starts dockerd with the storage driver given; the error
// wraps errGraphdriver when dockerd could not set that driver up.
func startDockerd(dockerd, docker, parent, driver string) (*Dockerd, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	dir, err := os.MkdirTemp(parent, "kd-")
	if err != nil {
		return nil, fmt.Errorf("start dockerd: %w", err)
	}
	if n := len(dir) + len(longestSocket); n > maxSocketPath {
		os.Remove(dir)
		return nil, fmt.Errorf("start dockerd in %s: its socket paths would be %d bytes, over the %d a unix socket takes; use a shorter parent", dir, n, maxSocketPath)
	}
	d := &Dockerd{
		Dir:    dir,
		Socket: filepath.Join(dir, "docker.sock"),
		Driver: driver,
		docker: docker,
		log:    filepath.Join(dir, "dockerd.log"),
		done:   make(chan struct{}),
	}
	d.Host = "unix://" + d.Socket
	// dockerd 20.10 writes its trust key to /etc/docker/key.json unless
	// its config file says otherwise, and there is no flag for it. The
	// config file named here also keeps a host's /etc/docker/daemon.json
	// out.
	config, _ := json.Marshal(map[string]string{"deprecated-key-path": filepath.Join(dir, "key.json")})
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), config, 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start dockerd: %w", err)
	}
	// No --containerd: dockerd starts a containerd of its own, configured
	// under --exec-root and --data-root. It would use a system containerd
	// instead if /run/containerd/containerd.sock existed; the namespaces,
	// named after dir, keep this engine's images and containers apart
	// there too.
	ns := filepath.Base(dir)
	args := []string{
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"--config-file", filepath.Join(dir, "daemon.json"),
		"-H", d.Host,
		"--storage-driver", d.Driver,
		"--containerd-namespace", ns,
		"--containerd-plugins-namespace", ns + "-plugins",
		// No default bridge, no iptables rules, and no forwarding
		// switched on (dockerd sets net.ipv4.ip_forward even with no
		// bridge): nothing on the host's network, or a test's network
		// namespace, changes.
		"--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false",
		"--shutdown-timeout", "5",
	}
	logf, err := os.Create(d.log)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start dockerd: %w", err)
	}
	cmd := exec.Command(dockerd, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Pdeathsig is sent when the thread that started dockerd exits, not
	// the process; so a goroutine starts it on a thread it keeps locked
	// until dockerd is gone. If the test binary dies without calling
	// Stop (a -timeout panic), dockerd still gets SIGTERM and shuts its
	// containerd down.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(d.done)
	}()
	err = <-started
	logf.Close()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start dockerd: %w", err)
	}
	d.proc = cmd.Process

	deadline := time.Now().Add(startTimeout)
	for {
		_, err := d.Run("info")
		if err == nil {
			return d, nil
		}
		select {
		case <-d.done:
			err = fmt.Errorf("dockerd exited: %s", cmd.ProcessState)
			if log, _ := os.ReadFile(d.log); bytes.Contains(log, []byte("error initializing graphdriver")) {
				err = fmt.Errorf("%w: %w", errGraphdriver, err)
			}
		case <-time.After(200 * time.Millisecond):
			if time.Now().Before(deadline) {
				continue
			}
			err = fmt.Errorf("no answer after %v: %w", startTimeout, err)
		}
		tail := d.logTail()
		if serr := d.Stop(); serr != nil {
			tail += "\n" + serr.Error()
		}
		return nil, fmt.Errorf("start dockerd: %w\n%s", err, tail)
	}
}

// Stop shuts the engine down and leaves nothing of it behind: no process
// (dockerd, its containerd, shims, containers), no mount, no file. It
// may be called more than once.
func (d *Dockerd) Stop() error {
	d.stopOnce.Do(func() { d.stopErr = d.stop() })
	return d.stopErr
}

func (d *Dockerd) stop() error {
	// On SIGTERM dockerd stops its containers, then its containerd, and
	// unmounts what it mounted.
	d.proc.Signal(syscall.SIGTERM)
	var errs []error
	select {
	case <-d.done:
	case <-time.After(stopTimeout):
		errs = append(errs, fmt.Errorf("dockerd %s: still running %v after SIGTERM, killed", d.Dir, stopTimeout))
		d.proc.Kill()
		<-d.done
	}
	if err := d.sweep(); err != nil {
		errs = append(errs, err)
	}
	if err := unmountUnder(d.Dir); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(d.Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// sweep kills what a dockerd that did not shut down cleanly leaves
// running: its containerd and shims, whose command lines name Dir, and the
// processes of its containers, found by their cgroups, which are named
// after the container IDs. After a clean shutdown it finds nothing.
func (d *Dockerd) sweep() error {
	var ids []string
	entries, _ := os.ReadDir(filepath.Join(d.Dir, "data", "containers"))
	for _, e := range entries {
		ids = append(ids, e.Name())
	}
	deadline := time.Now().Add(sweepTimeout)
	for {
		left := d.leftovers(ids)
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dockerd %s: processes %v still alive after SIGKILL", d.Dir, left)
		}
		for _, pid := range left {
			unix.Kill(pid, unix.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// leftovers lists the live processes that belong to the engine.
func (d *Dockerd) leftovers(ids []string) []int {
	procs, _ := os.ReadDir("/proc")
	var pids []int
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", p.Name(), "stat"))
		if i := bytes.LastIndexByte(stat, ')'); err != nil || i < 0 || bytes.HasPrefix(stat[i+1:], []byte(" Z")) {
			// Gone, or dead and waiting for its parent.
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		mine := bytes.Contains(cmdline, []byte(d.Dir+"/"))
		if !mine && len(ids) > 0 {
			cgroup, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "cgroup"))
			for _, id := range ids {
				if bytes.Contains(cgroup, []byte(id)) {
					mine = true
					break
				}
			}
		}
		if mine {
			pids = append(pids, pid)
		}
	}
	return pids
}

// unmountUnder detaches every mount at or under dir, deepest first: what a
// dockerd killed before it could clean up leaves (its bind mount of the
// data root, container root filesystems, network namespace files).
func unmountUnder(dir string) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	points, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	sort.SliceStable(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var errs []error
	for _, p := range points {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// mountsUnder lists the mount points at or under dir in the calling
// thread's mount namespace, which the caller locks to its goroutine.
// Not /proc/self: that is the main thread's view, which need not be this
// thread's (a goroutine that ends locked to the main thread can leave it
// in a namespace of its own).
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/thread-self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var points []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		p := mountinfo.Unescape(fields[4])
		if p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	return points, s.Err()
}
