package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupFile is the path of a control file of kiln's cgroup for id, where
// kiln puts it as containerd/cgroups' Mode decides: in the unified
// hierarchy where /sys/fs/cgroup is one, else in the controller's v1
// hierarchy at /sys/fs/cgroup/<controller>, hybrid machines included.
func cgroupFile(t *testing.T, controller, id, v1file, v2file string) string {
	t.Helper()
	if cgroupV2(t) {
		b, _ := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
		if !slices.Contains(strings.Fields(string(b)), controller) {
			t.Skipf("no %s cgroup controller", controller)
		}
		return filepath.Join("/sys/fs/cgroup/kiln", id, v2file)
	}
	dir := filepath.Join("/sys/fs/cgroup", controller)
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || st.Type != unix.CGROUP_SUPER_MAGIC {
		t.Skipf("no %s cgroup controller at %s", controller, dir)
	}
	return filepath.Join(dir, "kiln", id, v1file)
}

// cgroupV2 reports whether /sys/fs/cgroup is the unified hierarchy.
func cgroupV2(t *testing.T) bool {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		t.Skipf("no cgroup filesystem: %v", err)
	}
	return st.Type == unix.CGROUP2_SUPER_MAGIC
}

func TestLimitsMemoryKillsHog(t *testing.T) {
	root := newContainerRoot(t)
	// tail keeps all it reads while no newline comes: 128MB
	// cannot fit in 32MB of memory (plus as much swap).
	_, errOut, code := kiln(t, root, "run", "--rm", "--memory", "32m", "busybox", "sh", "-c", "dd if=/dev/zero bs=1M count=128 2>/dev/null | tail >/dev/null")
	if code != 137 {
		t.Errorf("run --memory 32m with a 128MB hog: got exit %d (stderr %q), want 137", code, errOut)
	}
	// Without the limit the same command succeeds.
	if _, errOut, code := kiln(t, root, "run", "--rm", "busybox", "sh", "-c", "dd if=/dev/zero bs=1M count=128 2>/dev/null | tail >/dev/null"); code != 0 {
		t.Errorf("the hog without --memory: got exit %d (stderr %q), want 0", code, errOut)
	}
}

func TestLimitsPidsStopsForkBomb(t *testing.T) {
	root := newContainerRoot(t)
	id := runDetached(t, root, "--name", "bomb", "--pids-limit", "20", "busybox", "sh", "-c",
		// The inner shell gives up when fork fails; the container's shell
		// survives it, and exec needs no new process.
		"sh -c 'i=0; while [ $i -lt 40 ]; do sleep 1000 & i=$((i+1)); done'; echo survived; exec sleep 1000")
	eventually(t, 20*time.Second, "the shell ran into the pids limit", func() bool {
		out, errOut := mustKiln(t, root, "logs", "bomb")
		return strings.Contains(errOut, "can't fork") && strings.Contains(out, "survived")
	})
	if st := inspectCtr(t, root, "bomb"); !st.State.Running {
		t.Errorf("the container died at the pids limit: %+v", st.State)
	}
	pidsFile := cgroupFile(t, "pids", id, "pids.current", "pids.current")
	b, err := os.ReadFile(pidsFile)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := strconv.Atoi(strings.TrimSpace(string(b))); n > 20 || n < 10 {
		t.Errorf("pids.current: got %d, want at most 20", n)
	}
	mustKiln(t, root, "rm", "-f", "bomb")
	if _, err := os.Stat(filepath.Dir(pidsFile)); !os.IsNotExist(err) {
		t.Errorf("rm -f left the cgroup %s: %v", filepath.Dir(pidsFile), err)
	}
}

// TestLimitsPidsOne: a container may be limited to its one process, as
// runc allows: kiln's init (threads of its runtime included) must not count
// against the limit before it execs the command.
func TestLimitsPidsOne(t *testing.T) {
	root := newContainerRoot(t)
	if out, errOut, code := kiln(t, root, "run", "--rm", "--pids-limit", "1", "busybox", "echo", "alone"); code != 0 || out != "alone\n" {
		t.Errorf("run --pids-limit 1 echo: got exit %d, %q (stderr %q), want 0, %q", code, out, errOut, "alone\n")
	}
	if out, _, _ := kiln(t, root, "run", "--rm", "--pids-limit", "1", "busybox", "sh", "-c", "/bin/true & wait; echo forked"); strings.Contains(out, "forked") {
		t.Errorf("run --pids-limit 1: the container forked (got %q)", out)
	}
}

func TestLimitsCPUsSetsQuota(t *testing.T) {
	root := newContainerRoot(t)
	id := runDetached(t, root, "--cpus", "0.5", "--cpu-shares", "512", "--memory", "64m", "busybox", "sleep", "1000")
	quota := cgroupFile(t, "cpu", id, "cpu.cfs_quota_us", "cpu.max")
	b, err := os.ReadFile(quota)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != "50000" && got != "50000 100000" {
		t.Errorf("%s: got %q, want a quota of 50000 per 100000µs", filepath.Base(quota), got)
	}
	if b, err := os.ReadFile(cgroupFile(t, "memory", id, "memory.limit_in_bytes", "memory.max")); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(64<<20) {
		t.Errorf("memory limit: got %q (%v), want %d", b, err, 64<<20)
	}
	// The limits are part of the container: a restart keeps them.
	mustKiln(t, root, "stop", "-t", "0", id)
	mustKiln(t, root, "start", id)
	if b, err := os.ReadFile(quota); err != nil || !strings.HasPrefix(string(b), "50000") {
		t.Errorf("after a restart, %s: got %q (%v), want 50000", filepath.Base(quota), b, err)
	}
}

func TestLimitsUlimit(t *testing.T) {
	root := newContainerRoot(t)
	out, _ := mustKiln(t, root, "run", "--rm", "--ulimit", "nofile=1024:2048", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn")
	if out != "1024\n2048\n" {
		t.Errorf("--ulimit nofile=1024:2048: got %q, want 1024 and 2048", out)
	}
}

func TestLimitsBadFlags(t *testing.T) {
	root := newContainerRoot(t)
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--memory", "lots"}, "--memory"},
		{[]string{"--memory", "1k"}, "--memory"},
		{[]string{"--memory-swap", "1g"}, "--memory-swap"},
		{[]string{"--memory", "64m", "--memory-swap", "32m"}, "--memory-swap"},
		{[]string{"--cpus", "half"}, "--cpus"},
		{[]string{"--ulimit", "nofiles=1"}, "--ulimit"},
		{[]string{"--ulimit", "nofile=2:1"}, "--ulimit"},
	} {
		_, errOut, code := kiln(t, root, append(append([]string{"run", "--rm"}, tc.args...), "busybox", "true")...)
		if code != 125 || !strings.Contains(errOut, tc.flag) {
			t.Errorf("run %s: got exit %d, %q, want 125 naming %s", strings.Join(tc.args, " "), code, errOut, tc.flag)
		}
	}
}

func TestLimitsBuildPidsLimit(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{"Dockerfile": "FROM busybox\n" +
		"RUN sh -c 'i=0; while [ $i -lt 40 ]; do sleep 1 & i=$((i+1)); done' || echo limited > /limited\n"})
	_, iid := build(t, root, dir, "--pids-limit", "20", "--memory", "256m")
	out, _ := mustKiln(t, root, "run", "--rm", iid, "cat", "/limited")
	if out != "limited\n" {
		t.Errorf("build --pids-limit 20: RUN forked 40 times unhindered (got %q)", out)
	}
	// Without the limit, the same step forks freely.
	dir2 := newContext(t, map[string]string{"Dockerfile": "FROM busybox\n" +
		"RUN sh -c 'i=0; while [ $i -lt 40 ]; do sleep 1 & i=$((i+1)); done' && echo free > /limited\n"})
	_, iid2 := build(t, root, dir2)
	if out, _ := mustKiln(t, root, "run", "--rm", iid2, "cat", "/limited"); out != "free\n" {
		t.Errorf("build without --pids-limit: got %q, want free", out)
	}
}

func TestLimitsStatsNoStream(t *testing.T) {
	root := newContainerRoot(t)
	runDetached(t, root, "--name", "busy", "--memory", "64m", "busybox", "sh", "-c", "while true; do :; done")
	runDetached(t, root, "--name", "idle", "busybox", "sleep", "1000")
	out, _ := mustKiln(t, root, "stats", "--no-stream")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "CPU %") || !strings.Contains(lines[0], "MEM USAGE / LIMIT") || !strings.Contains(lines[0], "PIDS") {
		t.Fatalf("stats --no-stream: got\n%s\nwant a header and two containers", out)
	}
	busy := ""
	for _, l := range lines[1:] {
		if strings.Contains(l, "busy") {
			busy = l
		}
	}
	if !strings.Contains(busy, "/ 64.00MiB") {
		t.Errorf("stats: busy's row %q, want its 64MiB limit", busy)
	}
	f := strings.Fields(busy)
	if cpu, err := strconv.ParseFloat(strings.TrimSuffix(f[2], "%"), 64); err != nil || cpu < 5 {
		t.Errorf("stats: busy's CPU %% is %q, want a busy loop's share", f[2])
	}
	if out, _ := mustKiln(t, root, "stats", "--no-stream", "idle"); !strings.Contains(out, "idle") || strings.Contains(out, "busy") {
		t.Errorf("stats --no-stream idle: got\n%s", out)
	}
}

func TestLimitsExecJoinsCgroup(t *testing.T) {
	root := newContainerRoot(t)
	id := runDetached(t, root, "--pids-limit", "50", "busybox", "sleep", "1000")
	cgroupFile(t, "pids", id, "pids.max", "pids.max") // skips without a pids controller
	// The exec'd process is counted against the container's limits: it is
	// in the container's pids cgroup (named by its ID).
	out, _ := mustKiln(t, root, "exec", id, "cat", "/proc/self/cgroup")
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "pids") || strings.HasPrefix(line, "0::") {
			if !strings.Contains(line, id) {
				t.Errorf("exec: /proc/self/cgroup has %q, want the container's cgroup %s", line, id[:12])
			}
			return
		}
	}
	t.Errorf("exec: no pids cgroup in %q", out)
}
