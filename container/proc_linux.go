package container

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
)

// ProcessStartTime returns the start time of pid in clock ticks since boot,
// field 22 of /proc/PID/stat.
func ProcessStartTime(pid int) (uint64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("pid %d: %w", pid, os.ErrNotExist)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseStartTime(b)
}

// parseStartTime reads field 22 of a /proc/PID/stat line. The command
// (field 2) is in parentheses and may hold spaces and parentheses itself, so
// fields are counted from the last ')'.
func parseStartTime(stat []byte) (uint64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc stat line")
	}
	f := bytes.Fields(stat[i+1:])
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return 0, fmt.Errorf("malformed /proc stat line: %d fields", len(f)+2)
	}
	return strconv.ParseUint(string(f[19]), 10, 64)
}

// processState returns field 3 of /proc/PID/stat (R, S, Z, …).
func processState(pid int) byte {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}

// Alive reports whether pid still names the process that started at start:
// a pid reused by another process is not alive, and neither is a zombie.
func Alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := ProcessStartTime(pid)
	if err != nil || st != start {
		return false
	}
	return processState(pid) != 'Z'
}

// ReadNetStats reads the traffic of the network namespace c's process is
// in, from /proc/PID/net/dev; see OwnNetwork for whether it is c's own.
func (c *Container) ReadNetStats() (NetStats, error) {
	pid := c.State.Pid
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/net/dev")
	if err != nil {
		return NetStats{}, fmt.Errorf("container %s: %w", c.ShortID(), err)
	}
	defer f.Close()
	// The open file shows the namespace the pid's process was in when it
	// was opened. Checked after the open, a pid still naming the
	// container's process was not reused by another one before it.
	if !Alive(pid, c.State.StartTime) {
		return NetStats{}, fmt.Errorf("container %s is not running: %w", c.ShortID(), os.ErrNotExist)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return NetStats{}, fmt.Errorf("container %s: %w", c.ShortID(), err)
	}
	return parseNetDev(b)
}
