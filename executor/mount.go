package executor

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// Mount types for Spec.Mounts.
const (
	// MountBind shows a directory or file of a source filesystem (Source,
	// a host directory, or Lower, a layer stack) at Target. Read-only
	// unless ReadOnly is false, and then writes go to a throwaway upper
	// directory: the source never changes.
	MountBind = "bind"
	// MountCache binds the host directory Source at Target as is: writes
	// persist there (RUN --mount=type=cache).
	MountCache = "cache"
	// MountTmpfs mounts a fresh tmpfs of Size bytes (0: the kernel's
	// default) at Target.
	MountTmpfs = "tmpfs"
	// MountSecret shows Data as a read-only file at Target. The content
	// lives in a tmpfs of the init child only: it never touches the disk,
	// the rootfs or the upper directory.
	MountSecret = "secret"
)

// Mount is one extra mount in a container, made after the rootfs is set up
// and before the process starts. Targets are resolved inside the rootfs (a
// symlink cannot lead out of it) and created if missing; whatever had to be
// created is taken out of the upper directory afterwards, so nothing of a
// mount lands in the layer.
type Mount struct {
	Type   string // one of the Mount constants
	Target string // absolute path in the container
	// Source is a host directory (bind, cache). For a bind, an empty Source
	// means the layer stack Lower (bottom first; empty: an empty directory).
	Source string
	Lower  []string
	// Path is what to show of the bind source, resolved inside it.
	Path string
	// Excludes are .dockerignore patterns, relative to Source, of files a
	// bind from the build context must not show.
	Excludes []string
	ReadOnly bool
	Size     int64  // tmpfs: bytes
	Data     []byte // secret: the content
	Mode     uint32 // secret: permission bits, 0 for 0400
	UID, GID int    // secret: owner
}

func validateMounts(ms []Mount) error {
	for _, m := range ms {
		if m.Target == "" || m.Target[0] != '/' {
			return fmt.Errorf("%w: mount target %q is not absolute", ErrInvalidSpec, m.Target)
		}
		switch m.Type {
		case MountBind, MountTmpfs, MountSecret:
		case MountCache:
			if m.Source == "" {
				return fmt.Errorf("%w: cache mount on %s has no directory", ErrInvalidSpec, m.Target)
			}
		default:
			return fmt.Errorf("%w: unknown mount type %q", ErrInvalidSpec, m.Type)
		}
		if m.Size < 0 {
			return fmt.Errorf("%w: tmpfs on %s: negative size", ErrInvalidSpec, m.Target)
		}
		if m.Mode&^0o7777 != 0 {
			return fmt.Errorf("%w: secret on %s: invalid mode %o", ErrInvalidSpec, m.Target, m.Mode)
		}
	}
	return nil
}

// mountOrder returns the indexes of ms sorted so that a mount comes after
// every mount on a parent of its target, as Docker orders volumes; ties keep
// their order.
func mountOrder(ms []Mount) []int {
	idx := make([]int, len(ms))
	for i := range idx {
		idx[i] = i
	}
	depth := func(i int) int {
		p := path.Clean(ms[i].Target)
		if p == "/" {
			return 0
		}
		return strings.Count(p, "/")
	}
	sort.SliceStable(idx, func(a, b int) bool { return depth(idx[a]) < depth(idx[b]) })
	return idx
}
