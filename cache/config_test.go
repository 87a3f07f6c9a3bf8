package cache

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"0", 0, false},
		{"512", 512, false},
		{"512B", 512, false},
		{"10GB", 10e9, false},
		{"10gb", 10e9, false},
		{"1.5G", 1.5e9, false},
		{"2k", 2000, false},
		{"512MiB", 512 << 20, false},
		{"1TiB", 1 << 40, false},
		{" 3 MB ", 3e6, false},
		{"1e9", 1e9, false},
		{"", 0, true},
		{"GB", 0, true},
		{"10XB", 0, true},
		{"-1GB", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSize(tc.in)
			if (err != nil) != tc.err {
				t.Fatalf("ParseSize(%q): got error %v, want error %v", tc.in, err, tc.err)
			}
			if got != tc.want {
				t.Errorf("ParseSize(%q): got %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name, in string
		want     int64
		err      string
	}{
		{"empty", "", 0, ""},
		{"comments", "# nothing\n\n  # more\n", 0, ""},
		{"quoted", `gc-keep-storage = "10GB"`, 10e9, ""},
		{"bare", "gc-keep-storage = 1000 # bytes", 1000, ""},
		{"trailing comment", `gc-keep-storage="1kB" # small`, 1000, ""},
		{"unknown key", "gc-keep = \"1GB\"", 0, `config.toml:1: unknown key "gc-keep"`},
		{"no value", "\ngc-keep-storage\n", 0, "config.toml:2: want key = value"},
		{"bad size", `gc-keep-storage = "lots"`, 0, "config.toml:1: gc-keep-storage"},
		{"unterminated", `gc-keep-storage = "1GB`, 0, "unterminated string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if c.GCKeepStorage != tc.want {
				t.Errorf("got GCKeepStorage %d, want %d", c.GCKeepStorage, tc.want)
			}
		})
	}
}

func TestFormatSize(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{{0, "0B"}, {999, "999B"}, {1500, "1.5kB"}, {3_100_000, "3.1MB"}, {2e9, "2.0GB"}, {5e12, "5.0TB"}} {
		if got := FormatSize(tc.in); got != tc.want {
			t.Errorf("FormatSize(%d): got %q, want %q", tc.in, got, tc.want)
		}
	}
}
