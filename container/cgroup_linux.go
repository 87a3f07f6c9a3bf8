package container

// A container's cgroups go through github.com/containerd/cgroups/v3:
// cgroup1 where the controllers are v1 hierarchies (legacy and hybrid
// machines, as cgroups.Mode tells them apart), cgroup2 where the unified
// hierarchy is the only one. They are "kiln/<id>" in each hierarchy: made
// with the container's limits, and for its stats (memory, cpuacct, pids,
// blkio on v1) and pause (freezer on v1) even without limits.
//
// The library makes them, writes the limits, reads the stats, freezes and
// deletes. It does not start the container's process in them: Cgroups
// returns their directories, and the executor's forking thread joins them
// so that the init is born inside (executor/cgroup_linux.go); the library
// would move it in by pid, through cgroup.procs, which on v1 waits for an
// RCU grace period.

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/containerd/cgroups/v3"
	"golang.org/x/sys/unix"
)

// cgroupRoot is where the cgroup filesystems are: cgroups.Mode looks
// nowhere else either.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupPath is the path of a container's cgroup in each hierarchy.
func cgroupPath(id string) string { return "/kiln/" + id }

// Cgroups makes the container's cgroups with l's limits, and returns their
// directories for the executor to start the container's process in
// (executor.Spec.Cgroups): one per v1 hierarchy, or one of cgroup v2. They
// are made even without limits, so that stats and pause work; where they
// cannot be, that is an error only if l needs them.
func Cgroups(id string, l Limits) ([]string, error) {
	var dirs []string
	var err error
	switch cgroups.Mode() {
	case cgroups.Unified:
		dirs, err = makeV2(cgroupRoot, id, l)
	case cgroups.Legacy, cgroups.Hybrid:
		dirs, err = makeV1(cgroupRoot, id, l)
	default:
		err = fmt.Errorf("%w: no cgroup filesystem is mounted at %s", ErrNoCgroup, cgroupRoot)
	}
	if err != nil && !l.cgroupNeeded() {
		return nil, nil
	}
	return dirs, err
}

// RemoveCgroup removes the container's cgroups, which must have no process
// left; missing ones are not an error.
func RemoveCgroup(id string) error {
	switch cgroups.Mode() {
	case cgroups.Unified:
		return removeV2(cgroupRoot, id)
	case cgroups.Legacy, cgroups.Hybrid:
		return removeV1(cgroupRoot, id)
	}
	return nil
}

// ReadStats reads the usage of the container's cgroups.
func ReadStats(id string) (Stats, error) {
	var st Stats
	var err error
	switch cgroups.Mode() {
	case cgroups.Unified:
		st, err = readStatsV2(cgroupRoot, id)
	case cgroups.Legacy, cgroups.Hybrid:
		st, err = readStatsV1(cgroupRoot, id)
	default:
		err = fmt.Errorf("%w: no cgroup filesystem is mounted at %s", ErrNoCgroup, cgroupRoot)
	}
	if err == nil && st.MemoryLimit == 0 {
		// As Docker: without a limit, the machine's memory is the limit.
		var si unix.Sysinfo_t
		if unix.Sysinfo(&si) == nil {
			st.MemoryLimit = uint64(si.Totalram) * uint64(si.Unit)
		}
	}
	return st, err
}

// Freeze stops every process of the container until Thaw.
func Freeze(id string) error { return setFrozen(id, true) }

// Thaw resumes a frozen container.
func Thaw(id string) error { return setFrozen(id, false) }

// freezeTimeout bounds the wait for a freezer to reach the state asked:
// a task in uninterruptible sleep can keep a v1 cgroup FREEZING.
const freezeTimeout = 10 * time.Second

func setFrozen(id string, frozen bool) error {
	switch cgroups.Mode() {
	case cgroups.Unified:
		return freezeV2(cgroupRoot, id, frozen)
	case cgroups.Legacy, cgroups.Hybrid:
		return freezeV1(cgroupRoot, id, frozen)
	}
	return fmt.Errorf("%w: no cgroup filesystem is mounted at %s", ErrNoCgroup, cgroupRoot)
}

// Frozen reports whether the container's cgroup is frozen.
func Frozen(id string) (bool, error) {
	switch cgroups.Mode() {
	case cgroups.Unified:
		return frozenV2(cgroupRoot, id)
	case cgroups.Legacy, cgroups.Hybrid:
		return frozenV1(cgroupRoot, id)
	}
	return false, fmt.Errorf("%w: no cgroup filesystem is mounted at %s", ErrNoCgroup, cgroupRoot)
}

// controllers are the cgroup controllers l's limits need (the same names on
// v1 and v2), each with a flag that needs it, for errors.
func (l Limits) controllers() map[string]string {
	need := map[string]string{}
	if l.Memory != 0 {
		need["memory"] = "--memory"
	}
	if l.NanoCPUs != 0 {
		need["cpu"] = "--cpus"
	}
	if l.CPUShares != 0 {
		need["cpu"] = "--cpu-shares"
	}
	if l.PidsLimit > 0 {
		need["pids"] = "--pids-limit"
	}
	return need
}

// limitFlags name the flag each control file the limits write serves.
var limitFlags = map[string]string{
	"memory.limit_in_bytes":       "--memory",
	"memory.max":                  "--memory",
	"memory.memsw.limit_in_bytes": "--memory-swap",
	"memory.swap.max":             "--memory-swap",
	"cpu.cfs_period_us":           "--cpus",
	"cpu.cfs_quota_us":            "--cpus",
	"cpu.max":                     "--cpus",
	"cpu.shares":                  "--cpu-shares",
	"cpu.weight":                  "--cpu-shares",
	"pids.max":                    "--pids-limit",
}

// limitError names the flag at fault in an error of the library's, which
// is the *fs.PathError of the control file it could not write.
func limitError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		file := filepath.Base(pe.Path)
		if flag, ok := limitFlags[file]; ok {
			return fmt.Errorf("%s: set %s: %w", flag, file, pe.Err)
		}
	}
	return fmt.Errorf("create cgroup: %w", err)
}

// retryRemove calls remove until it succeeds, for a second at most: a task
// that just exited can keep its cgroup busy for a moment, and the
// library's delete retries for less than that.
func retryRemove(remove func() error) error {
	deadline := time.Now().Add(time.Second)
	for {
		err := remove()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFrozen polls frozen until it reports want, for freezeTimeout at most.
func waitFrozen(frozen func() (bool, error), want bool) error {
	deadline := time.Now().Add(freezeTimeout)
	for {
		got, err := frozen()
		if err != nil || got == want {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup still not %s after %v", map[bool]string{true: "frozen", false: "thawed"}[want], freezeTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
