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
