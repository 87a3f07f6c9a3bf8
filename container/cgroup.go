package container

import (
	"strconv"
	"strings"
	"time"

	v1stats "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2stats "github.com/containerd/cgroups/v3/cgroup2/stats"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Stats is a cgroup's usage at one moment.
type Stats struct {
	CPU         time.Duration // CPU time used since the cgroup was made
	Memory      uint64        // bytes in use, page cache that can be dropped excluded
	MemoryLimit uint64        // 0: no limit
	Pids        uint64
	// BlockRead and BlockWrite are the bytes the cgroup's processes read
	// from and wrote to block devices, as far as the kernel counts them
	// (see bfqServiceBytes).
	BlockRead, BlockWrite uint64
}

// resources are l as the OCI runtime spec puts them, which is what
// containerd/cgroups takes: v1 control files as they are named, v2 through
// cgroup2.ToResources. swap reports swap accounting (v1's memory.memsw
// files): without it swap cannot be limited, and Docker warns and goes on,
// as kiln does.
func (l Limits) resources(swap bool) *specs.LinuxResources {
	r := &specs.LinuxResources{}
	if l.Memory > 0 {
		r.Memory = &specs.LinuxMemory{Limit: ptr(l.Memory)}
		if swap {
			r.Memory.Swap = ptr(l.swapLimit())
		}
	}
	if l.NanoCPUs > 0 || l.CPUShares > 0 {
		r.CPU = &specs.LinuxCPU{}
		if l.NanoCPUs > 0 {
			r.CPU.Period = ptr(uint64(cfsPeriod))
			r.CPU.Quota = ptr(l.NanoCPUs * cfsPeriod / 1e9)
		}
		if l.CPUShares > 0 {
			r.CPU.Shares = ptr(uint64(l.CPUShares))
		}
	}
	if l.PidsLimit > 0 {
		r.Pids = &specs.LinuxPids{Limit: ptr(l.PidsLimit)}
	}
	return r
}

// swapLimit is memory plus swap in bytes, -1 for unlimited: Docker's
// default is as much swap as memory.
func (l Limits) swapLimit() int64 {
	if l.MemorySwap == 0 {
		return 2 * l.Memory
	}
	return l.MemorySwap
}

func ptr[T any](v T) *T { return &v }

// noMemoryLimit is where cgroup v1 memory limits start to mean "none": the
// kernel reports an unset limit as the largest page-aligned int64.
const noMemoryLimit = 1 << 62

// statsV1 is the usage in the metrics of containerd/cgroups' cgroup1.
// listed reports whether the blkio counters it read named any device:
// when not, the cgroup's I/O may be counted by BFQ, which the library does
// not read (see bfqServiceBytes).
func statsV1(m *v1stats.Metrics) (st Stats, listed bool) {
	if mem := m.GetMemory(); mem != nil {
		usage := mem.GetUsage().GetUsage()
		if inactive := mem.GetTotalInactiveFile(); inactive < usage {
			usage -= inactive
		}
		st.Memory = usage
		if lim := mem.GetUsage().GetLimit(); lim < noMemoryLimit {
			st.MemoryLimit = lim
		}
	}
	st.CPU = time.Duration(m.GetCPU().GetUsage().GetTotal())
	st.Pids = m.GetPids().GetCurrent()
	for _, e := range m.GetBlkio().GetIoServiceBytesRecursive() {
		listed = true
		switch e.GetOp() {
		case "Read":
			st.BlockRead += e.GetValue()
		case "Write":
			st.BlockWrite += e.GetValue()
		}
	}
	return st, listed
}

// statsV2 is the usage in the metrics of containerd/cgroups' cgroup2.
func statsV2(m *v2stats.Metrics) Stats {
	var st Stats
	if mem := m.GetMemory(); mem != nil {
		usage := mem.GetUsage()
		if inactive := mem.GetInactiveFile(); inactive < usage {
			usage -= inactive
		}
		st.Memory = usage
		// The library reads "max" as the largest uint64.
		if lim := mem.GetUsageLimit(); lim < noMemoryLimit {
			st.MemoryLimit = lim
		}
	}
	st.CPU = time.Duration(m.GetCPU().GetUsageUsec()) * time.Microsecond
	st.Pids = m.GetPids().GetCurrent()
	for _, e := range m.GetIo().GetUsage() {
		st.BlockRead += e.GetRbytes()
		st.BlockWrite += e.GetWbytes()
	}
	return st
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
