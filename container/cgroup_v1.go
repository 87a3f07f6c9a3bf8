package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	if _, ok := h.v1["blkio"]; ok {
		st.BlockRead, st.BlockWrite = blkioV1(dir("blkio"))
	}
	return st, nil
}

// blkioFiles are where cgroup v1 counts a cgroup's block I/O, in the order
// they are tried; the first that lists a device is used.
//
// The throttle policy's counters see every bio whatever the scheduler, but
// only on devices where throttling is active (blk_should_throtl returns
// before counting unless blk_throtl_activated, block/blk-throttle.h), and
// recent kernels, 6.18 for one, activate it on a device only when a first
// throttle rule is written for it. On a machine where nobody wrote one the
// file holds just "Total 0": v1 counts a container's I/O nowhere, for
// Docker no more than for kiln. CFQ's counters (kernels before 5.0) and
// BFQ's count on devices that use those schedulers.
var blkioFiles = []string{
	"blkio.throttle.io_service_bytes",
	"blkio.io_service_bytes_recursive",
	"blkio.bfq.io_service_bytes_recursive",
}

// blkioV1 returns the bytes read and written by the blkio cgroup dir; a
// cgroup made by a kiln that did not join blkio has none.
func blkioV1(dir string) (read, write uint64) {
	for _, f := range blkioFiles {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			continue
		}
		if r, w, ok := parseBlkioV1(b); ok {
			return r, w
		}
	}
	return 0, 0
}

// parseBlkioV1 sums the Read and Write lines of an io_service_bytes file
// over its devices:
//
//	254:0 Read 1459200
//	254:0 Write 20971520
//	…
//	Total 22430720
//
// ok is false when no device is listed.
func parseBlkioV1(b []byte) (read, write uint64, ok bool) {
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || !strings.Contains(f[0], ":") {
			continue // the closing "Total N", or blank
		}
		ok = true
		n, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			continue
		}
		switch f[1] {
		case "Read":
			read += n
		case "Write":
			write += n
		}
	}
	return read, write, ok
}
