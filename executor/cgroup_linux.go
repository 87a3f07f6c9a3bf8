package executor

// The init is born in its cgroups (the devices one, and Spec.Cgroups)
// instead of being moved into them once it runs. Moving another process
// into a cgroup v1, by writing its pid to cgroup.procs, takes the kernel's
// global threadgroup lock for writing, and taking it waits for an RCU grace
// period: 5 to 15 ms of every start, measured. A thread that moves only
// itself (writing 0 to tasks) skips that lock, and a child starts in the
// cgroups of the thread that forks it. So the thread that forks the init,
// which does nothing else (startLocked), joins them just before the fork
// and goes back to its own just after. On cgroup v2, where only whole
// processes move, clone3's CLONE_INTO_CGROUP does the same. Either way
// nothing of the init, its Go runtime included, runs outside them.
//
// Where the thread's own cgroups cannot be worked out (mounts this does not
// understand), the init is moved in as soon as it is started instead:
// still before it reads its config, so before anything of the container's.
//
// A pids limit is the exception: born under it, the init's Go runtime would
// count its own threads against it, and a container with --pids-limit 2
// could not start. A v1 cgroup with a pids limit is joined by the init's
// own thread once it has read its config (before it runs anything of the
// container's; its other threads die at execve, so only kiln's code runs
// outside it); a v2 one is joined by pid as soon as the init is started,
// as before, since v2 moves whole processes only.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/mountinfo"
)

// cgroupBirth is where an init starts: cgroup directories sorted by how it
// gets there.
type cgroupBirth struct {
	v1   []string // joined by the forking thread
	back []string // the forking thread's own cgroups, one per v1 entry
	v2   *os.File // the one cgroup v2 directory, for CLONE_INTO_CGROUP
	late []string // moved into by pid once the init started
	self []string // v1, with a pids limit: joined by the init's own thread
}

// newCgroupBirth sorts dirs and sets cmd up to start in the v2 one.
func newCgroupBirth(cmd *exec.Cmd, dirs []string) (*cgroupBirth, error) {
	b := &cgroupBirth{}
	seen := map[string]bool{}
	for _, d := range dirs {
		if d == "" || seen[d] {
			continue
		}
		seen[d] = true
		var st unix.Statfs_t
		if err := unix.Statfs(d, &st); err != nil {
			b.close()
			return nil, fmt.Errorf("cgroup %s: %w", d, err)
		}
		switch {
		case st.Type == unix.CGROUP_SUPER_MAGIC && pidsLimited(d):
			b.self = append(b.self, d)
		case st.Type == unix.CGROUP_SUPER_MAGIC:
			b.v1 = append(b.v1, d)
		case st.Type == unix.CGROUP2_SUPER_MAGIC && pidsLimited(d):
			b.late = append(b.late, d)
		case st.Type == unix.CGROUP2_SUPER_MAGIC:
			if b.v2 != nil {
				b.close()
				return nil, fmt.Errorf("%w: two cgroup v2 directories, %s and %s", ErrInvalidSpec, b.v2.Name(), d)
			}
			f, err := os.OpenFile(d, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				b.close()
				return nil, fmt.Errorf("cgroup %s: %w", d, err)
			}
			b.v2 = f
			cmd.SysProcAttr.UseCgroupFD = true
			cmd.SysProcAttr.CgroupFD = int(f.Fd())
		default:
			b.close()
			return nil, fmt.Errorf("%w: %s is not a cgroup directory", ErrInvalidSpec, d)
		}
	}
	return b, nil
}

// pidsLimited reports a cgroup with a pids limit.
func pidsLimited(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "pids.max"))
	return err == nil && strings.TrimSpace(string(b)) != "max"
}

// selfJoined are the cgroups the init's thread joins itself (joinSelf).
func (b *cgroupBirth) selfJoined() []string {
	if b == nil {
		return nil
	}
	return b.self
}

// joinSelf moves the calling thread, the init's that will execve (or fork
// the process, for exec and --init), into each of dirs.
func joinSelf(dirs []string) error {
	for _, d := range dirs {
		if err := writeSelf(d); err != nil {
			return err
		}
	}
	return nil
}

func (b *cgroupBirth) close() {
	if b != nil && b.v2 != nil {
		b.v2.Close()
	}
}

// enter moves the calling thread, which must be locked to its goroutine,
// into the v1 cgroups. If its own cannot be found, the v1 cgroups are left
// to joinLate. On error the thread may be in some of them: it must exit.
func (b *cgroupBirth) enter() error {
	if b == nil || len(b.v1) == 0 {
		return nil
	}
	back, err := ownCgroups(b.v1)
	if err != nil {
		b.late, b.v1 = append(b.late, b.v1...), nil
		return nil
	}
	b.back = back
	for _, d := range b.v1 {
		if err := writeSelf(d); err != nil {
			return err
		}
	}
	return nil
}

// leave moves the calling thread back to its own cgroups.
func (b *cgroupBirth) leave() error {
	if b == nil {
		return nil
	}
	for _, d := range b.back {
		if err := writeSelf(d); err != nil {
			return err
		}
	}
	return nil
}

// joinLate moves pid into the cgroups it could not be born in.
func (b *cgroupBirth) joinLate(pid int) error {
	if b == nil {
		return nil
	}
	for _, d := range b.late {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return fmt.Errorf("join cgroup %s: %w", d, err)
		}
	}
	return nil
}

// writeSelf moves the calling thread, alone, into the v1 cgroup dir.
func writeSelf(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, "tasks"), []byte("0"), 0o644); err != nil {
		return fmt.Errorf("join cgroup %s: %w", dir, err)
	}
	return nil
}

// ownCgroups returns the calling thread's cgroup in the v1 hierarchy of
// each of dirs.
func ownCgroups(dirs []string) ([]string, error) {
	mounts, err := cgroupV1Mounts()
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return nil, err
	}
	type line struct {
		ctrls []string
		path  string
	}
	var own []line
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		// hierarchy-ID:controller-list:path
		f := strings.SplitN(l, ":", 3)
		if len(f) == 3 && f[1] != "" {
			own = append(own, line{strings.Split(f[1], ","), f[2]})
		}
	}
	back := make([]string, len(dirs))
	for i, d := range dirs {
		var m *cgroupMount
		for j := range mounts {
			if within(d, mounts[j].point) && (m == nil || len(mounts[j].point) > len(m.point)) {
				m = &mounts[j]
			}
		}
		if m == nil {
			return nil, fmt.Errorf("no cgroup v1 mount holds %s", d)
		}
		for _, l := range own {
			if !allIn(l.ctrls, m.opts) {
				continue
			}
			rel, err := filepath.Rel(m.root, l.path)
			if err != nil || !filepath.IsLocal(rel) {
				return nil, fmt.Errorf("cgroup %s is outside the mount of %s", l.path, m.point)
			}
			back[i] = filepath.Join(m.point, rel)
			break
		}
		if back[i] == "" {
			return nil, fmt.Errorf("no cgroup of this thread in the hierarchy of %s", d)
		}
	}
	return back, nil
}

func allIn(want, have []string) bool {
	for _, w := range want {
		if !hasString(have, w) {
			return false
		}
	}
	return true
}

// cgroupMount is a cgroup v1 hierarchy's mount: where, which directory of
// the hierarchy it shows, and its superblock options (the controllers).
type cgroupMount struct {
	point, root string
	opts        []string
}

var v1Mounts struct {
	once   sync.Once
	mounts []cgroupMount
	err    error
}

// cgroupV1Mounts reads the cgroup v1 mounts once per process: hierarchies
// are mounted at boot and stay.
func cgroupV1Mounts() ([]cgroupMount, error) {
	v1Mounts.once.Do(func() {
		raw, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			v1Mounts.err = err
			return
		}
		v1Mounts.mounts = parseCgroupMounts(raw)
		if len(v1Mounts.mounts) == 0 {
			v1Mounts.err = errors.New("no cgroup v1 mounts")
		}
	})
	return v1Mounts.mounts, v1Mounts.err
}

func parseCgroupMounts(raw []byte) []cgroupMount {
	var out []cgroupMount
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent maj:min root mountpoint options [optional…] - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, p := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(p) < 3 || p[0] != "cgroup" {
			continue
		}
		out = append(out, cgroupMount{point: mountinfo.Unescape(f[4]), root: mountinfo.Unescape(f[3]), opts: strings.Split(p[2], ",")})
	}
	return out
}
