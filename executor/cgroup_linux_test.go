package executor

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseCgroupMounts(t *testing.T) {
	const mountinfo = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
37 31 0:34 /docker/ab12 /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /x/my\040pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	got := parseCgroupMounts([]byte(mountinfo))
	want := []cgroupMount{
		{point: "/sys/fs/cgroup/cpu,cpuacct", root: "/", opts: []string{"rw", "cpu", "cpuacct"}},
		{point: "/sys/fs/cgroup/freezer", root: "/docker/ab12", opts: []string{"rw", "freezer"}},
		{point: "/x/my pids", root: "/", opts: []string{"rw", "pids"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// cgroupDir makes a cgroup named after the test under mnt, or skips.
func cgroupDir(t *testing.T, mnt string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("making cgroups needs root")
	}
	dir := filepath.Join(mnt, fmt.Sprintf("kiln-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("no cgroup to make under %s: %v", mnt, err)
	}
	t.Cleanup(func() { _ = unix.Rmdir(dir) })
	return dir
}

// TestRunBornInCgroups: the init is in Spec.Cgroups before anything of it
// is reported started, and the thread that forked it is back in its own.
func TestRunBornInCgroups(t *testing.T) {
	base := busybox(t)
	var dirs []string
	v2 := false
	for _, mnt := range []string{"/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		var st unix.Statfs_t
		if err := unix.Statfs(mnt, &st); err != nil {
			continue
		}
		switch {
		case st.Type == unix.CGROUP_SUPER_MAGIC:
		case st.Type == unix.CGROUP2_SUPER_MAGIC && !v2:
			v2 = true
		default:
			continue
		}
		dirs = append(dirs, cgroupDir(t, mnt))
	}
	if len(dirs) == 0 {
		t.Skip("no cgroup hierarchy mounted under /sys/fs/cgroup")
	}
	t.Logf("cgroups: %q", dirs)
	t.Run("born", func(t *testing.T) { checkBornIn(t, base, dirs) })
	t.Run("moved in when its own cgroups are unknown", func(t *testing.T) {
		mounts, err := cgroupV1Mounts()
		v1Mounts.mounts, v1Mounts.err = nil, errors.New("unknown")
		defer func() { v1Mounts.mounts, v1Mounts.err = mounts, err }()
		checkBornIn(t, base, dirs)
	})
}

func checkBornIn(t *testing.T, base string, dirs []string) {
	var inAtStart []string
	s := Spec{Rootfs: rootfs(t, base), Args: []string{"true"}, Cgroups: dirs,
		Started: func(pid int) error {
			for _, d := range dirs {
				procs, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
				if err != nil {
					return err
				}
				if bytes.Contains(append([]byte("\n"), procs...), []byte("\n"+strconv.Itoa(pid)+"\n")) {
					inAtStart = append(inAtStart, d)
				}
			}
			return nil
		},
	}
	mustRun(t, s)
	if !reflect.DeepEqual(inAtStart, dirs) {
		t.Errorf("the init at its start: got in %q, want in %q", inAtStart, dirs)
	}
	for _, d := range dirs {
		// No thread of this process stayed behind: the cgroup is empty.
		if procs, err := os.ReadFile(filepath.Join(d, "cgroup.procs")); err != nil || len(procs) != 0 {
			t.Errorf("%s after the run: got %q (%v), want no process left", d, procs, err)
		}
	}
}

func TestRunCgroupsNotACgroup(t *testing.T) {
	base := busybox(t)
	_, err := run(t, Spec{Rootfs: rootfs(t, base), Args: []string{"true"}, Cgroups: []string{t.TempDir()}})
	if err == nil || !strings.Contains(err.Error(), "not a cgroup directory") {
		t.Errorf("got %v, want an error saying it is not a cgroup directory", err)
	}
}

// TestRunPidsLimitCgroup: under a pids limit of 1 the init still starts (its
// Go runtime's threads do not count against it) and the container cannot
// fork.
func TestRunPidsLimitCgroup(t *testing.T) {
	base := busybox(t)
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup/pids", &st); err != nil || st.Type != unix.CGROUP_SUPER_MAGIC {
		t.Skip("no cgroup v1 pids hierarchy at /sys/fs/cgroup/pids")
	}
	dir := cgroupDir(t, "/sys/fs/cgroup/pids")
	if err := os.WriteFile(filepath.Join(dir, "pids.max"), []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := mustRun(t, Spec{Rootfs: rootfs(t, base), Args: []string{"echo", "up"}, Cgroups: []string{dir}}); got != "up\n" {
		t.Errorf("under pids.max 1: got %q, want %q", got, "up\n")
	}
	out, _ := run(t, Spec{Rootfs: rootfs(t, base), Args: sh("/bin/true & wait; echo forked"), Cgroups: []string{dir}})
	if strings.Contains(out, "forked") {
		t.Errorf("under pids.max 1: got %q, want the fork refused", out)
	}
}
