package executor

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Rlimit is one resource limit set with setrlimit(2) in the container's
// init before it executes the command, as Docker's --ulimit does. Name is
// the resource as ulimit(1) and Docker spell it ("nofile", "nproc", …).
type Rlimit struct {
	Name       string
	Soft, Hard uint64
}

// Unlimited is RLIM_INFINITY; ParseRlimit takes -1 or "unlimited" for it.
const Unlimited = math.MaxUint64

// rlimitNames are the resources Docker's --ulimit accepts.
var rlimitNames = []string{
	"as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue",
	"nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
}

// ParseRlimit parses Docker's --ulimit syntax: NAME=SOFT[:HARD], the hard
// limit defaulting to the soft one.
func ParseRlimit(s string) (Rlimit, error) {
	name, vals, ok := strings.Cut(s, "=")
	if !ok || name == "" || vals == "" {
		return Rlimit{}, fmt.Errorf("%q: want NAME=SOFT[:HARD]", s)
	}
	known := false
	for _, n := range rlimitNames {
		known = known || n == name
	}
	if !known {
		return Rlimit{}, fmt.Errorf("%q: unknown resource %q (one of %s)", s, name, strings.Join(rlimitNames, ", "))
	}
	softS, hardS, hasHard := strings.Cut(vals, ":")
	soft, err := parseRlimitValue(softS)
	if err != nil {
		return Rlimit{}, fmt.Errorf("%q: %w", s, err)
	}
	hard := soft
	if hasHard {
		if hard, err = parseRlimitValue(hardS); err != nil {
			return Rlimit{}, fmt.Errorf("%q: %w", s, err)
		}
	}
	if soft > hard {
		return Rlimit{}, fmt.Errorf("%q: the soft limit %s exceeds the hard limit %s", s, softS, hardS)
	}
	return Rlimit{Name: name, Soft: soft, Hard: hard}, nil
}

func parseRlimitValue(s string) (uint64, error) {
	if s == "-1" || s == "unlimited" {
		return Unlimited, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid limit %q", s)
	}
	return v, nil
}
