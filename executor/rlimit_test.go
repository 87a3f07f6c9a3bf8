package executor

import "testing"

func TestParseRlimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Rlimit
		bad  bool
	}{
		{in: "nofile=1024:2048", want: Rlimit{"nofile", 1024, 2048}},
		{in: "nofile=1024", want: Rlimit{"nofile", 1024, 1024}},
		{in: "core=-1", want: Rlimit{"core", Unlimited, Unlimited}},
		{in: "nproc=10:unlimited", want: Rlimit{"nproc", 10, Unlimited}},
		{in: "nofiles=1", bad: true},
		{in: "nofile", bad: true},
		{in: "nofile=", bad: true},
		{in: "nofile=2:1", bad: true},
		{in: "nofile=x", bad: true},
		{in: "=1", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRlimit(tc.in)
			if tc.bad {
				if err == nil {
					t.Errorf("ParseRlimit(%q): got %+v, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ParseRlimit(%q): got %+v, %v, want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}
