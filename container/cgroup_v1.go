package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// makeV1 makes a cgroup per v1 controller (controllers mounted together
// share one) with l's limits, and returns their directories.
func makeV1(h hierarchies, id string, l Limits) ([]string, error) {
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
	for c, flag := range need {
		if _, ok := h.v1[c]; !ok {
			return nil, fmt.Errorf("%s: the %s cgroup controller is not mounted", flag, c)
		}
	}
	var dirs []string
	done := map[string]bool{}
	for _, c := range limitControllers {
		mnt, ok := h.v1[c]
		if !ok || done[mnt] || (c == "cpu" && need["cpu"] == "") {
			// cpu only limits; stats read cpuacct, which a cpu,cpuacct
			// mount brings along.
			continue
		}
		done[mnt] = true
		dir := filepath.Join(mnt, cgroupParent, id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create cgroup: %w", err)
		}
		if err := limitV1(dir, h, mnt, l); err != nil {
			return nil, err
		}
		dirs = append(dirs, dir)
	}
	return dirs, nil
}

// limitV1 writes the limits of every controller mounted at mnt.
func limitV1(dir string, h hierarchies, mnt string, l Limits) error {
	if h.v1["memory"] == mnt && l.Memory > 0 {
		if err := cgroupWrite(dir, "memory.limit_in_bytes", strconv.FormatInt(l.Memory, 10), "--memory"); err != nil {
			return err
		}
		// Without swap accounting (no memsw files) swap cannot be
		// limited; Docker warns and goes on, so does kiln.
		if _, err := os.Stat(filepath.Join(dir, "memory.memsw.limit_in_bytes")); err == nil {
			if err := cgroupWrite(dir, "memory.memsw.limit_in_bytes", strconv.FormatInt(l.swapLimit(), 10), "--memory-swap"); err != nil {
				return err
			}
		}
	}
	if h.v1["cpu"] == mnt {
		if l.NanoCPUs > 0 {
			if err := cgroupWrite(dir, "cpu.cfs_period_us", strconv.Itoa(cfsPeriod), "--cpus"); err != nil {
				return err
			}
			if err := cgroupWrite(dir, "cpu.cfs_quota_us", strconv.FormatInt(l.NanoCPUs*cfsPeriod/1e9, 10), "--cpus"); err != nil {
				return err
			}
		}
		if l.CPUShares > 0 {
			if err := cgroupWrite(dir, "cpu.shares", strconv.FormatInt(l.CPUShares, 10), "--cpu-shares"); err != nil {
				return err
			}
		}
	}
	if h.v1["pids"] == mnt && l.PidsLimit > 0 {
		if err := cgroupWrite(dir, "pids.max", strconv.FormatInt(l.PidsLimit, 10), "--pids-limit"); err != nil {
			return err
		}
	}
	return nil
}

func statsV1(h hierarchies, id string) (Stats, error) {
	var st Stats
	dir := func(c string) string { return filepath.Join(h.v1[c], cgroupParent, id) }
	if _, ok := h.v1["memory"]; !ok {
		return st, fmt.Errorf("%w: the memory controller is not mounted", ErrNoCgroup)
	}
	usage, err := readUint(dir("memory"), "memory.usage_in_bytes")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return st, fmt.Errorf("%w: the container has no cgroup (not running?)", ErrNoCgroup)
		}
		return st, err
	}
	inactive := readKey(dir("memory"), "memory.stat", "total_inactive_file")
	if inactive < usage {
		usage -= inactive
	}
	st.Memory = usage
	if lim, err := readUint(dir("memory"), "memory.limit_in_bytes"); err == nil && lim < 1<<62 {
		st.MemoryLimit = lim
	}
	if _, ok := h.v1["cpuacct"]; ok {
		ns, _ := readUint(dir("cpuacct"), "cpuacct.usage")
		st.CPU = time.Duration(ns)
	}
	if _, ok := h.v1["pids"]; ok {
		st.Pids, _ = readUint(dir("pids"), "pids.current")
	}
	return st, nil
}
