package container

// Limits and stats write to the cgroup filesystems directly, as pause does:
// a few files per controller. The hierarchies are found in
// /proc/self/mountinfo rather than assumed: cgroup v2 where its unified
// mount has the controllers (a pure v2 system, or a hybrid one that moved
// them there), else the v1 controllers, each its own mount on hybrid and
// legacy systems.

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// cgroupParent is the directory kiln's cgroups live in, in every hierarchy.
const cgroupParent = "kiln"

// limitControllers are the controllers limits and stats use; blkio only
// counts, kiln sets no I/O limits.
var limitControllers = []string{"memory", "cpu", "cpuacct", "pids", "blkio"}

// hierarchies are the cgroup mounts of this system.
type hierarchies struct {
	unified string            // the cgroup2 mount, if any
	v1      map[string]string // v1 controller → its mount point
}

// parseMountinfo finds the cgroup mounts in a mountinfo file.
func parseMountinfo(r io.Reader) (hierarchies, error) {
	h := hierarchies{v1: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent maj:min root mountpoint options [optional…] - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, p := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(p) < 3 {
			continue
		}
		mnt := unescapeMountinfo(f[4])
		switch p[0] {
		case "cgroup2":
			if h.unified == "" {
				h.unified = mnt
			}
		case "cgroup":
			for _, opt := range strings.Split(p[2], ",") {
				for _, c := range limitControllers {
					if opt == c {
						if _, seen := h.v1[c]; !seen {
							h.v1[c] = mnt
						}
					}
				}
				if opt == "freezer" {
					if _, seen := h.v1["freezer"]; !seen {
						h.v1["freezer"] = mnt
					}
				}
			}
		}
	}
	return h, sc.Err()
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// useV2 reports whether limits go to the unified hierarchy: it has the
// memory or pids controller available.
func (h hierarchies) useV2() bool {
	if h.unified == "" {
		return false
	}
	b, err := os.ReadFile(filepath.Join(h.unified, "cgroup.controllers"))
	if err != nil {
		return false
	}
	for _, c := range strings.Fields(string(b)) {
		if c == "memory" || c == "pids" {
			return true
		}
	}
	return false
}

func findHierarchies() (hierarchies, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return hierarchies{}, fmt.Errorf("%w: %v", ErrNoCgroup, err)
	}
	defer f.Close()
	return parseMountinfo(f)
}
