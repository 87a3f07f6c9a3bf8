package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Stats is a cgroup's usage at one moment.
type Stats struct {
	CPU         time.Duration // CPU time used since the cgroup was made
	Memory      uint64        // bytes in use, page cache that can be dropped excluded
	MemoryLimit uint64        // 0: no limit
	Pids        uint64
	// BlockRead and BlockWrite are the bytes the cgroup's processes read
	// from and wrote to block devices, as far as the kernel counts them
	// (see blkioFiles).
	BlockRead, BlockWrite uint64
}

// Cgroups makes the container's cgroups, the freezer one pause uses and
// those of LimitCgroups, and returns their directories, for the executor to
// start the container's process in (executor.Spec.Cgroups). Without a
// freezer everything but pause works, so its absence is no error.
func Cgroups(id string, l Limits) ([]string, error) {
	dirs, err := LimitCgroups(id, l)
	if err != nil {
		return nil, err
	}
	if f, err := FreezerCgroup(id); err == nil {
		dirs = append(dirs, f)
	}
	return dirs, nil
}

// LimitCgroups makes cgroups named id, one per controller on cgroup v1 or
// one on v2, with l's limits, and returns their directories. They are made
// even without limits, so that stats can read the container's usage;
// without any cgroup filesystem that is an error only where l needs one.
func LimitCgroups(id string, l Limits) ([]string, error) {
	h, err := findHierarchies()
	if err == nil && h.unified == "" && len(h.v1) == 0 {
		err = fmt.Errorf("%w: no cgroup filesystem is mounted", ErrNoCgroup)
	}
	var dirs []string
	if err == nil {
		if h.useV2() {
			dir := filepath.Join(h.unified, cgroupParent, id)
			if err = makeV2(dir, l); err == nil {
				dirs = []string{dir}
			}
		} else {
			dirs, err = makeV1(h, id, l)
		}
	}
	if err != nil && !l.cgroupNeeded() {
		return nil, nil
	}
	return dirs, err
}

// RemoveLimits removes the cgroups LimitCgroups made for id, which must have
// no process left; missing ones are not an error.
func RemoveLimits(id string) error {
	h, err := findHierarchies()
	if err != nil {
		return nil
	}
	var dirs []string
	if h.unified != "" {
		dirs = append(dirs, filepath.Join(h.unified, cgroupParent, id))
	}
	for _, c := range limitControllers {
		if mnt, ok := h.v1[c]; ok {
			dirs = append(dirs, filepath.Join(mnt, cgroupParent, id))
		}
	}
	var first error
	for _, d := range dirs {
		if err := removeCgroupDir(d); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// removeCgroupDir removes one cgroup directory. A task that just exited
// can keep it busy for a moment, so EBUSY is retried for a second.
func removeCgroupDir(dir string) error {
	for i := 0; ; i++ {
		err := os.Remove(dir)
		switch {
		case err == nil || errors.Is(err, fs.ErrNotExist):
			return nil
		case errors.Is(err, syscall.EBUSY) && i < 50:
			time.Sleep(20 * time.Millisecond)
		default:
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
	}
}

// ReadStats reads the usage of the cgroups LimitCgroups made for id.
func ReadStats(id string) (Stats, error) {
	h, err := findHierarchies()
	if err != nil {
		return Stats{}, err
	}
	var st Stats
	if h.useV2() {
		st, err = statsV2(filepath.Join(h.unified, cgroupParent, id))
	} else {
		st, err = statsV1(h, id)
	}
	if err == nil && st.MemoryLimit == 0 {
		// As Docker: without a limit, the machine's memory is the limit.
		st.MemoryLimit = readKey("/proc", "meminfo", "MemTotal:") * 1024
	}
	return st, err
}

// swapLimit is memory plus swap in bytes, -1 for unlimited: Docker's
// default is as much swap as memory.
func (l Limits) swapLimit() int64 {
	if l.MemorySwap == 0 {
		return 2 * l.Memory
	}
	return l.MemorySwap
}

// cgroupWrite writes one control file; flag names the option it serves in
// the error.
func cgroupWrite(dir, file, val, flag string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(val), 0o644); err != nil {
		if flag != "" {
			return fmt.Errorf("%s: set %s to %s: %w", flag, file, val, err)
		}
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}

func readUint(dir, file string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, nil
	}
	return strconv.ParseUint(s, 10, 64)
}

// readKey reads "key value" from a flat-keyed file such as memory.stat.
func readKey(dir, file, key string) uint64 {
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
