package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	"golang.org/x/sys/unix"
)

// v1Names are the v1 controllers of a container's cgroups, in the order
// the executor joins them: its limits', then those stats read (cpuacct,
// blkio) and the freezer pause uses. cpu only limits, so it is left out
// without a CPU limit: one cgroup fewer to make and join.
func v1Names(cpu bool) []cgroup1.Name {
	names := []cgroup1.Name{cgroup1.Memory}
	if cpu {
		names = append(names, cgroup1.Cpu)
	}
	return append(names, cgroup1.Cpuacct, cgroup1.Pids, cgroup1.Blkio, cgroup1.Freezer)
}

// pather is what every cgroup1 subsystem kiln uses has: the directory of
// a cgroup path in its hierarchy.
type pather interface{ Path(path string) string }

// newV1Subsystem is the library's controller for n, with its hierarchy at
// root/n as the library expects (co-mounted controllers, cpu,cpuacct, are
// reached through the symlinks systemd makes for each).
func newV1Subsystem(root string, n cgroup1.Name) cgroup1.Subsystem {
	switch n {
	case cgroup1.Memory:
		// Only the usage and the limit are read: without swap
		// accounting there are no memsw files, and recent kernels
		// dropped the kmem ones.
		return cgroup1.NewMemory(root, cgroup1.IgnoreModules("memsw", "kmem", "kmem.tcp"))
	case cgroup1.Cpu:
		return cgroup1.NewCpu(root)
	case cgroup1.Cpuacct:
		return cgroup1.NewCpuacct(root)
	case cgroup1.Pids:
		return cgroup1.NewPids(root)
	case cgroup1.Blkio:
		return cgroup1.NewBlkio(root)
	case cgroup1.Freezer:
		return cgroup1.NewFreezer(root)
	}
	panic("container: no cgroup1 subsystem " + string(n))
}

// v1Hierarchy is the part of a list of v1 controllers this machine has
// mounted: a cgroup1.Hierarchy limited to them, so that the library makes
// no cgroup in the others.
type v1Hierarchy struct {
	subs []cgroup1.Subsystem
	// shared marks a subsystem whose hierarchy an earlier one has too
	// (cpu and cpuacct mounted together): same cgroup directory.
	shared []bool
}

func findV1(root string, names []cgroup1.Name) v1Hierarchy {
	var h v1Hierarchy
	var devs []uint64
	for _, n := range names {
		s := newV1Subsystem(root, n)
		dir := s.(pather).Path("/")
		var sfs unix.Statfs_t
		var st unix.Stat_t
		if unix.Statfs(dir, &sfs) != nil || sfs.Type != unix.CGROUP_SUPER_MAGIC || unix.Stat(dir, &st) != nil {
			continue
		}
		shared := false
		for _, d := range devs {
			shared = shared || d == st.Dev // a v1 hierarchy is a superblock of its own
		}
		devs = append(devs, st.Dev)
		h.subs = append(h.subs, s)
		h.shared = append(h.shared, shared)
	}
	return h
}

func (h v1Hierarchy) has(n cgroup1.Name) bool {
	for _, s := range h.subs {
		if s.Name() == n {
			return true
		}
	}
	return false
}

func (h v1Hierarchy) opt() cgroup1.InitOpts {
	return cgroup1.WithHierarchy(func() ([]cgroup1.Subsystem, error) { return h.subs, nil })
}

// makeV1 makes the container's v1 cgroups with l's limits and returns
// their directories, one per hierarchy.
func makeV1(root, id string, l Limits) ([]string, error) {
	cpu := l.NanoCPUs != 0 || l.CPUShares != 0
	h := findV1(root, v1Names(cpu))
	for c, flag := range l.controllers() {
		if !h.has(cgroup1.Name(c)) {
			return nil, fmt.Errorf("%s: the %s cgroup controller is not mounted", flag, c)
		}
	}
	if len(h.subs) == 0 {
		return nil, fmt.Errorf("%w: no cgroup v1 controller kiln uses is mounted under %s", ErrNoCgroup, root)
	}
	swap := false
	if l.Memory > 0 {
		// Swap accounting shows as memsw files, in the root cgroup as
		// in every other.
		_, err := os.Stat(filepath.Join(root, string(cgroup1.Memory), "memory.memsw.limit_in_bytes"))
		swap = err == nil
	}
	path := cgroupPath(id)
	if _, err := cgroup1.New(cgroup1.StaticPath(path), l.resources(swap), h.opt()); err != nil {
		return nil, limitError(err)
	}
	var dirs []string
	for i, s := range h.subs {
		if !h.shared[i] {
			dirs = append(dirs, s.(pather).Path(path))
		}
	}
	return dirs, nil
}

// loadV1 loads the container's existing cgroups in the hierarchies of
// names, the first of which must be mounted; a container without any has
// no cgroup (ErrNoCgroup).
func loadV1(root, id string, names ...cgroup1.Name) (cgroup1.Cgroup, error) {
	h := findV1(root, names)
	if !h.has(names[0]) {
		return nil, fmt.Errorf("%w: the %s cgroup controller is not mounted", ErrNoCgroup, names[0])
	}
	cg, err := cgroup1.Load(cgroup1.StaticPath(cgroupPath(id)), h.opt())
	if errors.Is(err, cgroup1.ErrCgroupDeleted) {
		return nil, fmt.Errorf("%w: the container has no cgroup", ErrNoCgroup)
	}
	return cg, err
}

func removeV1(root, id string) error {
	cg, err := cgroup1.Load(cgroup1.StaticPath(cgroupPath(id)), findV1(root, v1Names(true)).opt())
	if errors.Is(err, cgroup1.ErrCgroupDeleted) {
		return nil // none mounted, or none made
	}
	if err != nil {
		return err
	}
	if err := retryRemove(cg.Delete); err != nil {
		return fmt.Errorf("remove cgroup: %w", err)
	}
	return nil
}

func readStatsV1(root, id string) (Stats, error) {
	cg, err := loadV1(root, id, cgroup1.Memory, cgroup1.Cpuacct, cgroup1.Pids, cgroup1.Blkio)
	if err != nil {
		return Stats{}, err
	}
	return statsOfV1(cg, cgroupPath(id))
}

// statsOfV1 reads the stats of cg, whose path is path; a controller
// missing from it (a cgroup made by a kiln that did not use blkio) counts
// nothing.
func statsOfV1(cg cgroup1.Cgroup, path string) (Stats, error) {
	m, err := cg.Stat(cgroup1.IgnoreNotExist)
	if err != nil {
		return Stats{}, fmt.Errorf("cgroup stats: %w", err)
	}
	st, listed := statsV1(m)
	if !listed {
		for _, s := range cg.Subsystems() {
			if s.Name() == cgroup1.Blkio {
				st.BlockRead, st.BlockWrite = bfqServiceBytes(s.(pather).Path(path))
			}
		}
	}
	return st, nil
}

// bfqServiceBytes reads the bytes the blkio cgroup dir read and wrote as
// BFQ counts them.
//
// cgroup1 reads CFQ's counters (kernels before 5.0) or else the throttle
// policy's. Those see every bio whatever the scheduler, but only on
// devices where throttling is active (blk_should_throtl returns before
// counting unless blk_throtl_activated, block/blk-throttle.h), and recent
// kernels, 6.18 for one, activate it on a device only when a first
// throttle rule is written for it. On a machine where nobody wrote one
// that file holds just "Total 0", and BFQ's counters, on devices that use
// that scheduler, are the only ones left.
func bfqServiceBytes(dir string) (read, write uint64) {
	b, err := os.ReadFile(filepath.Join(dir, "blkio.bfq.io_service_bytes_recursive"))
	if err != nil {
		return 0, 0
	}
	read, write, _ = parseBlkioV1(b)
	return read, write
}

func freezeV1(root, id string, frozen bool) error {
	cg, err := loadV1(root, id, cgroup1.Freezer)
	if err != nil {
		return err
	}
	op := cg.Thaw
	if frozen {
		op = cg.Freeze
	}
	// The library waits for the state as long as it takes, rewriting it
	// every millisecond; past freezeTimeout kiln gives up on it (and its
	// goroutine, which ends with the process).
	done := make(chan error, 1)
	go func() { done <- op() }()
	select {
	case err := <-done:
		return err
	case <-time.After(freezeTimeout):
		return fmt.Errorf("cgroup still not %s after %v", map[bool]string{true: "frozen", false: "thawed"}[frozen], freezeTimeout)
	}
}

func frozenV1(root, id string) (bool, error) {
	cg, err := loadV1(root, id, cgroup1.Freezer)
	if err != nil {
		return false, err
	}
	return cg.State() == cgroup1.Frozen, nil
}
