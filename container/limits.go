package container

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/kiln-build/kiln/executor"
)

// Limits are a container's (or a RUN step's) resource limits, as Docker's
// flags of the same names set them. Zero means "not set" throughout.
type Limits struct {
	Memory int64 `json:",omitempty"` // bytes
	// MemorySwap is memory plus swap in bytes; -1 is unlimited swap, and
	// unset (0) with Memory set is twice Memory, as with Docker.
	MemorySwap int64 `json:",omitempty"`
	NanoCPUs   int64 `json:",omitempty"` // CPUs × 1e9: the CFS quota over a 100ms period
	CPUShares  int64 `json:",omitempty"` // relative weight, 1024 the default
	// PidsLimit caps the number of tasks; -1 (or 0) is unlimited.
	PidsLimit int64             `json:",omitempty"`
	Ulimits   []executor.Rlimit `json:",omitempty"`
}

// cfsPeriod is the CFS period --cpus is expressed over, as Docker's.
const cfsPeriod = 100000 // µs

// minMemory is Docker's smallest --memory: below it a container cannot
// even start its init.
const minMemory = 6 << 20

// Validate checks the limits' combination; errors name the flag at fault.
func (l Limits) Validate() error {
	switch {
	case l.Memory < 0:
		return errors.New("--memory: must be positive")
	case l.Memory > 0 && l.Memory < minMemory:
		return errors.New("--memory: the minimum is 6MB")
	case l.MemorySwap != 0 && l.Memory == 0:
		return errors.New("--memory-swap: requires --memory")
	case l.MemorySwap > 0 && l.MemorySwap < l.Memory:
		return errors.New("--memory-swap: must be at least --memory (it counts memory plus swap)")
	case l.MemorySwap < -1:
		return errors.New("--memory-swap: must be positive or -1 (unlimited)")
	case l.NanoCPUs < 0:
		return errors.New("--cpus: must be positive")
	case l.CPUShares < 0 || l.CPUShares == 1:
		return errors.New("--cpu-shares: must be at least 2")
	}
	return nil
}

// cgroupNeeded reports whether any limit needs a cgroup controller.
func (l Limits) cgroupNeeded() bool {
	return l.Memory != 0 || l.NanoCPUs != 0 || l.CPUShares != 0 || l.PidsLimit > 0
}

// ParseSize parses a byte count as Docker's flags take it: a number with
// an optional b, k, m, g, t or p suffix (powers of 1024, case-insensitive,
// an optional trailing "b" or "ib": 64m, 64MB, 1.5g). "-1" is returned as -1.
func ParseSize(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "ib")
	if len(t) > 1 && t[len(t)-1] == 'b' && strings.ContainsAny(t[len(t)-2:len(t)-1], "kmgtp") {
		t = t[:len(t)-1]
	}
	mult := float64(1)
	if n := len(t); n > 0 {
		if i := strings.IndexByte("bkmgtp", t[n-1]); i >= 0 {
			mult = math.Pow(1024, float64(i))
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) || t == "" || strings.ContainsAny(t, "eE+-") {
		return 0, fmt.Errorf("invalid size %q: want a number with an optional unit (b, k, m, g)", s)
	}
	b := v * mult
	if b >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return int64(b), nil
}

// ParseCPUs parses --cpus ("0.5", "2") into nano-CPUs.
func ParseCPUs(s string) (int64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, fmt.Errorf("invalid number of CPUs %q", s)
	}
	n := int64(math.Round(v * 1e9))
	if v > 0 && n*cfsPeriod/1e9 < 1000 {
		// The kernel refuses a CFS quota under 1ms.
		return 0, fmt.Errorf("invalid number of CPUs %q: the minimum is 0.01", s)
	}
	return n, nil
}
