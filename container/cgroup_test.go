package container

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	v1stats "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2stats "github.com/containerd/cgroups/v3/cgroup2/stats"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// asJSON shows resources with their pointers followed, for comparison.
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestResources(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    Limits
		swap bool
		want *specs.LinuxResources
	}{
		{"none", Limits{}, true, &specs.LinuxResources{}},
		{"pids unlimited", Limits{PidsLimit: -1}, true, &specs.LinuxResources{}},
		// Docker's default: as much swap as memory, so memsw twice it.
		{"memory", Limits{Memory: 64 << 20}, true, &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20), Swap: ptr[int64](128 << 20)}}},
		{"memory, no swap accounting", Limits{Memory: 64 << 20}, false, &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20)}}},
		{"memory-swap", Limits{Memory: 64 << 20, MemorySwap: 100 << 20}, true, &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20), Swap: ptr[int64](100 << 20)}}},
		{"unlimited swap", Limits{Memory: 64 << 20, MemorySwap: -1}, true, &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20), Swap: ptr[int64](-1)}}},
		// --cpus 0.5: a 50ms quota every 100ms.
		{"cpus", Limits{NanoCPUs: 5e8}, true, &specs.LinuxResources{
			CPU: &specs.LinuxCPU{Period: ptr[uint64](100000), Quota: ptr[int64](50000)}}},
		{"cpu-shares", Limits{CPUShares: 512}, true, &specs.LinuxResources{
			CPU: &specs.LinuxCPU{Shares: ptr[uint64](512)}}},
		{"cpus and shares", Limits{NanoCPUs: 2e9, CPUShares: 2048}, true, &specs.LinuxResources{
			CPU: &specs.LinuxCPU{Period: ptr[uint64](100000), Quota: ptr[int64](200000), Shares: ptr[uint64](2048)}}},
		{"pids", Limits{PidsLimit: 20}, true, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](20)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := asJSON(t, tc.l.resources(tc.swap)), asJSON(t, tc.want); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func TestStatsV1(t *testing.T) {
	for _, tc := range []struct {
		name   string
		m      *v1stats.Metrics
		want   Stats
		listed bool
	}{
		{"empty", &v1stats.Metrics{}, Stats{}, false},
		{"full", &v1stats.Metrics{
			CPU: &v1stats.CPUStat{Usage: &v1stats.CPUUsage{Total: 1500000000, User: 1}},
			Memory: &v1stats.MemoryStat{
				Usage:             &v1stats.MemoryEntry{Usage: 10 << 20, Limit: 64 << 20},
				TotalInactiveFile: 3 << 20,
				InactiveFile:      99 << 20, // this cgroup's alone: the total counts
			},
			Pids: &v1stats.PidsStat{Current: 3, Limit: 20},
			Blkio: &v1stats.BlkIOStat{IoServiceBytesRecursive: []*v1stats.BlkIOEntry{
				{Op: "Read", Major: 254, Value: 1459200},
				{Op: "Write", Major: 254, Value: 20971520},
				{Op: "Sync", Major: 254, Value: 20971520},
				{Op: "Total", Major: 254, Value: 22430720},
				{Op: "Read", Major: 7, Value: 4096},
				{Op: "Discard", Major: 7, Value: 9},
			}},
		}, Stats{CPU: 1500 * time.Millisecond, Memory: 7 << 20, MemoryLimit: 64 << 20, Pids: 3,
			BlockRead: 1459200 + 4096, BlockWrite: 20971520}, true},
		// No limit reads as the largest page-aligned int64; page cache
		// larger than the usage (charged elsewhere) is not subtracted.
		{"no limit", &v1stats.Metrics{Memory: &v1stats.MemoryStat{
			Usage:             &v1stats.MemoryEntry{Usage: 1 << 20, Limit: math.MaxInt64 &^ 4095},
			TotalInactiveFile: 2 << 20,
		}}, Stats{Memory: 1 << 20}, false},
		{"blkio without devices", &v1stats.Metrics{Blkio: &v1stats.BlkIOStat{}}, Stats{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, listed := statsV1(tc.m)
			if got != tc.want || listed != tc.listed {
				t.Errorf("got %+v, %v, want %+v, %v", got, listed, tc.want, tc.listed)
			}
		})
	}
}

func TestStatsV2(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    *v2stats.Metrics
		want Stats
	}{
		{"empty", &v2stats.Metrics{}, Stats{}},
		{"full", &v2stats.Metrics{
			CPU:    &v2stats.CPUStat{UsageUsec: 2500000, UserUsec: 1},
			Memory: &v2stats.MemoryStat{Usage: 10 << 20, UsageLimit: 64 << 20, InactiveFile: 3 << 20},
			Pids:   &v2stats.PidsStat{Current: 3, Limit: 20},
			Io: &v2stats.IOStat{Usage: []*v2stats.IOEntry{
				{Major: 254, Rbytes: 1459200, Wbytes: 20971520, Rios: 192},
				{Major: 7, Rbytes: 4096},
			}},
		}, Stats{CPU: 2500 * time.Millisecond, Memory: 7 << 20, MemoryLimit: 64 << 20, Pids: 3,
			BlockRead: 1459200 + 4096, BlockWrite: 20971520}},
		// The library reads memory.max's "max" as the largest uint64.
		{"no limit", &v2stats.Metrics{Memory: &v2stats.MemoryStat{Usage: 1 << 20, UsageLimit: math.MaxUint64}},
			Stats{Memory: 1 << 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := statsV2(tc.m); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
