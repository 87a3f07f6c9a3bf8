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

// makeV2 makes dir, a cgroup of the unified hierarchy, with l's limits. Its
// parent must delegate the controllers, so they are enabled in the
// subtree_control of every level down from the mount.
func makeV2(dir string, l Limits) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create cgroup: %w", err)
	}
	for _, p := range []string{filepath.Dir(filepath.Dir(dir)), filepath.Dir(dir)} {
		for _, c := range []string{"memory", "cpu", "pids", "io"} {
			// One at a time: a controller that cannot be enabled (cpu, with
			// realtime tasks about) must not keep the others off.
			_ = os.WriteFile(filepath.Join(p, "cgroup.subtree_control"), []byte("+"+c), 0o644)
		}
	}
	if l.Memory > 0 {
		if err := cgroupWrite(dir, "memory.max", strconv.FormatInt(l.Memory, 10), "--memory"); err != nil {
			return err
		}
		swap := "max"
		if s := l.swapLimit(); s > 0 {
			swap = strconv.FormatInt(s-l.Memory, 10)
		}
		if _, err := os.Stat(filepath.Join(dir, "memory.swap.max")); err == nil {
			if err := cgroupWrite(dir, "memory.swap.max", swap, "--memory-swap"); err != nil {
				return err
			}
		}
	}
	if l.NanoCPUs > 0 {
		v := fmt.Sprintf("%d %d", l.NanoCPUs*cfsPeriod/1e9, cfsPeriod)
		if err := cgroupWrite(dir, "cpu.max", v, "--cpus"); err != nil {
			return err
		}
	}
	if l.CPUShares > 0 {
		// runc's mapping of shares [2, 262144] onto weights [1, 10000].
		w := 1 + ((l.CPUShares-2)*9999)/262142
		if err := cgroupWrite(dir, "cpu.weight", strconv.FormatInt(w, 10), "--cpu-shares"); err != nil {
			return err
		}
	}
	if l.PidsLimit > 0 {
		if err := cgroupWrite(dir, "pids.max", strconv.FormatInt(l.PidsLimit, 10), "--pids-limit"); err != nil {
			return err
		}
	}
	return nil
}

func statsV2(dir string) (Stats, error) {
	var st Stats
	usage, err := readUint(dir, "memory.current")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return st, fmt.Errorf("%w: the container has no cgroup (not running?)", ErrNoCgroup)
		}
		return st, err
	}
	if inactive := readKey(dir, "memory.stat", "inactive_file"); inactive < usage {
		usage -= inactive
	}
	st.Memory = usage
	st.MemoryLimit, _ = readUint(dir, "memory.max")
	st.CPU = time.Duration(readKey(dir, "cpu.stat", "usage_usec")) * time.Microsecond
	st.Pids, _ = readUint(dir, "pids.current")
	// Without the io controller (not delegated to kiln's cgroups) there is
	// no io.stat: no I/O counted.
	if b, err := os.ReadFile(filepath.Join(dir, "io.stat")); err == nil {
		st.BlockRead, st.BlockWrite = parseIOStat(b)
	}
	return st, nil
}

// parseIOStat sums rbytes and wbytes of io.stat over its devices:
//
//	254:0 rbytes=1459200 wbytes=20971520 rios=192 wios=20 dbytes=0 dios=0
func parseIOStat(b []byte) (read, write uint64) {
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.Contains(f[0], ":") {
			continue
		}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue
			}
			switch k {
			case "rbytes":
				read += n
			case "wbytes":
				write += n
			}
		}
	}
	return read, write
}
