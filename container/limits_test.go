package container

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "64m", want: 64 << 20},
		{in: "64M", want: 64 << 20},
		{in: "64mb", want: 64 << 20},
		{in: "64MiB", want: 64 << 20},
		{in: "1g", want: 1 << 30},
		{in: "1.5g", want: 3 << 29},
		{in: "512k", want: 512 << 10},
		{in: "100", want: 100},
		{in: "100b", want: 100},
		{in: "-1", want: -1},
		{in: "", bad: true},
		{in: "m", bad: true},
		{in: "lots", bad: true},
		{in: "-5m", bad: true},
		{in: "1e3", bad: true},
		{in: "64x", bad: true},
		{in: "99999999999p", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSize(tc.in)
			if tc.bad {
				if err == nil {
					t.Errorf("ParseSize(%q): got %d, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ParseSize(%q): got %d, %v, want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParseCPUs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "0.5", want: 5e8},
		{in: "2", want: 2e9},
		{in: "1.25", want: 1.25e9},
		{in: "0", want: 0},
		{in: "0.001", bad: true},
		{in: "-1", bad: true},
		{in: "half", bad: true},
		{in: "NaN", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseCPUs(tc.in)
			if tc.bad {
				if err == nil {
					t.Errorf("ParseCPUs(%q): got %d, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ParseCPUs(%q): got %d, %v, want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestLimitsValidate(t *testing.T) {
	for _, tc := range []struct {
		l    Limits
		flag string // "" when valid
	}{
		{Limits{Memory: 64 << 20}, ""},
		{Limits{Memory: 64 << 20, MemorySwap: -1}, ""},
		{Limits{Memory: 64 << 20, MemorySwap: 128 << 20}, ""},
		{Limits{Memory: 1 << 10}, "--memory"},
		{Limits{MemorySwap: 1 << 30}, "--memory-swap"},
		{Limits{Memory: 64 << 20, MemorySwap: 32 << 20}, "--memory-swap"},
		{Limits{CPUShares: 1}, "--cpu-shares"},
		{Limits{PidsLimit: -1}, ""},
	} {
		err := tc.l.Validate()
		if (err == nil) != (tc.flag == "") || (err != nil && !strings.HasPrefix(err.Error(), tc.flag+":")) {
			t.Errorf("%+v: got %v, want an error naming %q", tc.l, err, tc.flag)
		}
	}
}

func TestParseMountinfo(t *testing.T) {
	const hybrid = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /x/my\040pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	h, err := parseMountinfo(strings.NewReader(hybrid))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
		"memory": "/sys/fs/cgroup/memory", "freezer": "/sys/fs/cgroup/freezer", "pids": "/x/my pids",
		"blkio": "/sys/fs/cgroup/blkio",
	}
	for c, m := range want {
		if h.v1[c] != m {
			t.Errorf("v1 %s: got %q, want %q", c, h.v1[c], m)
		}
	}
	if len(h.v1) != len(want) {
		t.Errorf("v1: got %v, want %v", h.v1, want)
	}
	if h.unified != "/sys/fs/cgroup/unified" {
		t.Errorf("unified: got %q", h.unified)
	}
	h, _ = parseMountinfo(strings.NewReader("25 20 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"))
	if h.unified != "/sys/fs/cgroup" || len(h.v1) != 0 {
		t.Errorf("pure v2: got %+v", h)
	}
}
