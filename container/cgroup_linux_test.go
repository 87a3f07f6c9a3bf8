package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	"golang.org/x/sys/unix"
)

func TestResourcesV2(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    Limits
		swap bool
		want *cgroup2.Resources
	}{
		{"none", Limits{}, true, &cgroup2.Resources{}},
		// memory.swap.max counts swap alone: Docker's default of as much
		// swap as memory.
		{"memory", Limits{Memory: 64 << 20}, true, &cgroup2.Resources{
			Memory: &cgroup2.Memory{Max: ptr[int64](64 << 20), Swap: ptr[int64](64 << 20)}}},
		{"memory-swap", Limits{Memory: 64 << 20, MemorySwap: 100 << 20}, true, &cgroup2.Resources{
			Memory: &cgroup2.Memory{Max: ptr[int64](64 << 20), Swap: ptr[int64](36 << 20)}}},
		{"no swap accounting", Limits{Memory: 64 << 20}, false, &cgroup2.Resources{
			Memory: &cgroup2.Memory{Max: ptr[int64](64 << 20)}}},
		// Unlimited is memory.swap.max's default, max: nothing to write.
		{"unlimited swap", Limits{Memory: 64 << 20, MemorySwap: -1}, true, &cgroup2.Resources{
			Memory: &cgroup2.Memory{Max: ptr[int64](64 << 20)}}},
		{"cpus", Limits{NanoCPUs: 5e8}, true, &cgroup2.Resources{CPU: &cgroup2.CPU{Max: "50000 100000"}}},
		// The default shares give the default weight.
		{"cpu-shares 1024", Limits{CPUShares: 1024}, true, &cgroup2.Resources{CPU: &cgroup2.CPU{Weight: ptr[uint64](100)}}},
		{"cpu-shares 2", Limits{CPUShares: 2}, true, &cgroup2.Resources{CPU: &cgroup2.CPU{Weight: ptr[uint64](1)}}},
		{"cpu-shares 262144", Limits{CPUShares: 262144}, true, &cgroup2.Resources{CPU: &cgroup2.CPU{Weight: ptr[uint64](10000)}}},
		{"pids", Limits{PidsLimit: 20}, true, &cgroup2.Resources{Pids: &cgroup2.Pids{Max: 20}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := asJSON(t, tc.l.resourcesV2(tc.swap)), asJSON(t, tc.want); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func TestLimitError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&fs.PathError{Op: "open", Path: "/sys/fs/cgroup/memory/kiln/x/memory.limit_in_bytes", Err: syscall.EBUSY},
			"--memory: set memory.limit_in_bytes: device or resource busy"},
		{fmt.Errorf("wrapped: %w", &fs.PathError{Op: "open", Path: "/sys/fs/cgroup/kiln/x/cpu.max", Err: syscall.EINVAL}),
			"--cpus: set cpu.max: invalid argument"},
		{&fs.PathError{Op: "mkdir", Path: "/sys/fs/cgroup/pids/kiln/x", Err: syscall.EROFS},
			"create cgroup: mkdir /sys/fs/cgroup/pids/kiln/x: read-only file system"},
	} {
		if got := limitError(tc.err); got.Error() != tc.want {
			t.Errorf("%v: got %q, want %q", tc.err, got, tc.want)
		}
	}
}

// writeFiles makes dir and files in it.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStatsOfV1 reads stats through the library from a tree of files laid
// out as the v1 controllers lay out theirs.
func TestStatsOfV1(t *testing.T) {
	const path = "/kiln/x"
	throttle := string(readTestdata(t, "blkio-throttle"))
	for _, tc := range []struct {
		name        string
		blkio       map[string]string
		read, write uint64
	}{
		{"throttle", map[string]string{
			"blkio.throttle.io_serviced":           "254:0 Read 192\nTotal 192\n",
			"blkio.throttle.io_service_bytes":      throttle,
			"blkio.bfq.io_service_bytes_recursive": "8:0 Read 1\n8:0 Write 1\nTotal 2\n",
		}, 1459200 + 4096, 20971520},
		// Throttling not active on any device: BFQ's counters.
		{"bfq", map[string]string{
			"blkio.throttle.io_serviced":           "Total 0\n",
			"blkio.throttle.io_service_bytes":      "Total 0\n",
			"blkio.bfq.io_service_bytes_recursive": "8:0 Read 10\n8:0 Write 20\nTotal 30\n",
		}, 10, 20},
		// Kernels with CFQ: its counters, read by the library.
		{"cfq", map[string]string{
			"blkio.sectors_recursive":          "8:0 1\n",
			"blkio.io_service_bytes_recursive": "8:0 Read 3\n8:0 Write 4\nTotal 7\n",
			"blkio.io_serviced_recursive":      "8:0 Read 1\n8:0 Write 1\nTotal 2\n",
			"blkio.io_queued_recursive":        "Total 0\n",
			"blkio.io_service_time_recursive":  "Total 0\n",
			"blkio.io_wait_time_recursive":     "Total 0\n",
			"blkio.io_merged_recursive":        "Total 0\n",
			"blkio.time_recursive":             "8:0 1\n",
			"blkio.throttle.io_serviced":       "Total 0\n",
			"blkio.throttle.io_service_bytes":  "Total 0\n",
		}, 3, 4},
		{"none", map[string]string{"blkio.throttle.io_serviced": "Total 0\n", "blkio.throttle.io_service_bytes": "Total 0\n"}, 0, 0},
		// A cgroup made by a kiln that did not join blkio.
		{"no blkio cgroup", nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, filepath.Join(root, "memory", path), map[string]string{
				"memory.stat":               "cache 0\ninactive_file 4096\ntotal_inactive_file 1048576\n",
				"memory.oom_control":        "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
				"memory.usage_in_bytes":     "5242880\n",
				"memory.max_usage_in_bytes": "6291456\n",
				"memory.failcnt":            "0\n",
				"memory.limit_in_bytes":     "67108864\n",
			})
			writeFiles(t, filepath.Join(root, "cpuacct", path), map[string]string{
				"cpuacct.stat":         "user 10\nsystem 5\n",
				"cpuacct.usage":        "150000000\n",
				"cpuacct.usage_percpu": "100000000 50000000\n",
			})
			writeFiles(t, filepath.Join(root, "pids", path), map[string]string{"pids.current": "3\n", "pids.max": "20\n"})
			if tc.blkio != nil {
				writeFiles(t, filepath.Join(root, "blkio", path), tc.blkio)
			}
			var subs []cgroup1.Subsystem
			for _, n := range []cgroup1.Name{cgroup1.Memory, cgroup1.Cpuacct, cgroup1.Pids, cgroup1.Blkio} {
				subs = append(subs, newV1Subsystem(root, n))
			}
			cg, err := cgroup1.Load(cgroup1.StaticPath(path), v1Hierarchy{subs: subs}.opt())
			if err != nil {
				t.Fatal(err)
			}
			got, err := statsOfV1(cg, path)
			want := Stats{CPU: 150 * time.Millisecond, Memory: 4 << 20, MemoryLimit: 64 << 20, Pids: 3,
				BlockRead: tc.read, BlockWrite: tc.write}
			if err != nil || got != want {
				t.Errorf("got %+v, %v, want %+v", got, err, want)
			}
		})
	}
}

// TestStatsOfV2 reads stats through the library from files laid out as a
// cgroup v2's.
func TestStatsOfV2(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, filepath.Join(root, "kiln", "x"), map[string]string{
		"memory.current": "5242880\n",
		"memory.max":     "max\n",
		"memory.stat":    "anon 4194304\nfile 1048576\ninactive_file 1048576\n",
		"cpu.stat":       "usage_usec 150000\nuser_usec 100000\nsystem_usec 50000\n",
		"pids.current":   "3\n",
		"pids.max":       "20\n",
		"io.stat":        string(readTestdata(t, "iostat")),
	})
	m, err := cgroup2.Load("/kiln/x", cgroup2.WithMountpoint(root))
	if err != nil {
		t.Fatal(err)
	}
	got, err := statsOfV2(m)
	want := Stats{CPU: 150 * time.Millisecond, Memory: 4 << 20, Pids: 3, BlockRead: 1459200 + 4096, BlockWrite: 20971520}
	if err != nil || got != want {
		t.Errorf("got %+v, %v, want %+v", got, err, want)
	}
}

// TestCgroupsOnHost makes, reads, freezes and removes a container's
// cgroups on this machine's hierarchies.
func TestCgroupsOnHost(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making cgroups needs root")
	}
	if cgroups.Mode() == cgroups.Unavailable {
		t.Skip("no cgroup filesystem at " + cgroupRoot)
	}
	id := fmt.Sprintf("test-%d", os.Getpid())
	l := Limits{Memory: 64 << 20, NanoCPUs: 5e8, PidsLimit: 20}
	dirs, err := Cgroups(id, l)
	if err != nil {
		t.Skipf("cannot make cgroups here: %v", err)
	}
	t.Cleanup(func() { _ = RemoveCgroup(id) })
	t.Logf("mode %v, cgroups %q", cgroups.Mode(), dirs)
	if len(dirs) == 0 {
		t.Fatal("no cgroup directory")
	}
	seen := map[string]bool{}
	for _, d := range dirs {
		if seen[d] || !strings.HasSuffix(d, "/kiln/"+id) {
			t.Errorf("directory %s: want each once, ending in kiln/%s", d, id)
		}
		seen[d] = true
	}
	// The limits are in place, where their controller is.
	for file, want := range map[string]string{
		"memory.limit_in_bytes": "67108864", "memory.max": "67108864",
		"cpu.cfs_quota_us": "50000", "cpu.max": "50000 100000",
		"pids.max": "20",
	} {
		for _, d := range dirs {
			if b, err := os.ReadFile(filepath.Join(d, file)); err == nil && strings.TrimSpace(string(b)) != want {
				t.Errorf("%s/%s: got %q, want %q", d, file, strings.TrimSpace(string(b)), want)
			}
		}
	}
	st, err := ReadStats(id)
	if err != nil || st.MemoryLimit != 64<<20 || st.Pids != 0 {
		t.Errorf("stats of an empty cgroup: got %+v, %v, want a 64MiB limit and no pids", st, err)
	}
	if err := Freeze(id); err != nil {
		t.Errorf("freeze: %v", err)
	} else if frozen, err := Frozen(id); !frozen || err != nil {
		t.Errorf("frozen after freeze: got %v, %v", frozen, err)
	}
	if err := Thaw(id); err != nil {
		t.Errorf("thaw: %v", err)
	} else if frozen, err := Frozen(id); frozen || err != nil {
		t.Errorf("frozen after thaw: got %v, %v", frozen, err)
	}
	if err := RemoveCgroup(id); err != nil {
		t.Fatalf("remove: %v", err)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after remove: got %v, want it gone", d, err)
		}
	}
	if err := RemoveCgroup(id); err != nil {
		t.Errorf("remove again: got %v, want nothing to do", err)
	}
	if _, err := ReadStats(id); !errors.Is(err, ErrNoCgroup) {
		t.Errorf("stats after remove: got %v, want ErrNoCgroup", err)
	}
}

// TestV2OnUnifiedMount runs the cgroup v2 code on a unified hierarchy
// other than /sys/fs/cgroup where there is one: the hybrid machine's
// /sys/fs/cgroup/unified, which may have no controller at all.
func TestV2OnUnifiedMount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making cgroups needs root")
	}
	root := cgroupRoot
	if cgroups.Mode() != cgroups.Unified {
		root = filepath.Join(cgroupRoot, "unified")
	}
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Skipf("no cgroup v2 hierarchy at %s", root)
	}
	b, _ := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	have := strings.Fields(string(b))
	id := fmt.Sprintf("test-v2-%d", os.Getpid())
	t.Cleanup(func() {
		_ = removeV2(root, id)
		if root != cgroupRoot {
			_ = unix.Rmdir(filepath.Join(root, "kiln")) // kiln uses v1 here
		}
	})
	l := Limits{PidsLimit: 20}
	if !slices.Contains(have, "pids") {
		if _, err := makeV2(root, id, l); err == nil || !strings.HasPrefix(err.Error(), "--pids-limit: the pids cgroup controller is not available") {
			t.Errorf("--pids-limit without the pids controller: got %v, want an error naming the flag", err)
		}
		l = Limits{}
	}
	dirs, err := makeV2(root, id, l)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "kiln", id); len(dirs) != 1 || dirs[0] != want {
		t.Fatalf("got %q, want [%s]", dirs, want)
	}
	if l.PidsLimit != 0 {
		if b, err := os.ReadFile(filepath.Join(dirs[0], "pids.max")); err != nil || strings.TrimSpace(string(b)) != "20" {
			t.Errorf("pids.max: got %q, %v, want 20", b, err)
		}
	}
	if _, err := readStatsV2(root, id); err != nil {
		t.Errorf("stats: %v", err)
	}
	if err := freezeV2(root, id, true); err != nil {
		t.Errorf("freeze: %v", err)
	} else if frozen, err := frozenV2(root, id); !frozen || err != nil {
		t.Errorf("frozen after freeze: got %v, %v", frozen, err)
	}
	if err := freezeV2(root, id, false); err != nil {
		t.Errorf("thaw: %v", err)
	}
	if err := removeV2(root, id); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if _, err := os.Stat(dirs[0]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s after remove: got %v, want it gone", dirs[0], err)
	}
	if err := removeV2(root, id); err != nil {
		t.Errorf("remove again: got %v, want nothing to do", err)
	}
	if _, err := readStatsV2(root, id); !errors.Is(err, ErrNoCgroup) {
		t.Errorf("stats after remove: got %v, want ErrNoCgroup", err)
	}
}
