package executor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// Mount targets by handle, not by name.
//
// runc's CVE-2021-30465: the runtime resolved a mount target safely, then
// mounted on the resolved *name*; a container sharing a volume swapped a
// component for a symlink in between, and the kernel followed it to the
// host. In kiln the only tree another container can change while an init
// sets up is a cache mount's directory, shared by concurrent steps; so a
// target at or under a cache mount, or a stub created there, could be
// swapped. Every stub is therefore created with openat-style calls that
// stay inside the rootfs whatever the tree does (pathrs-lite: openat2
// RESOLVE_IN_ROOT where the kernel has it), and every mount goes onto an
// O_PATH handle opened the same way, through /proc/self/fd/N. A swap can at
// worst redirect a mount to another place inside the rootfs.

// openInRoot opens p (a path in the container) inside root as an O_PATH
// handle.
func openInRoot(root, p string) (*os.File, error) {
	r, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return pathrs.OpenatInRoot(r, p)
}

// relInRoot turns a host path under root (as ensure returns them) back into
// a path in the container.
func relInRoot(root, full string) (string, error) {
	rel, err := filepath.Rel(root, full)
	if err != nil || !filepath.IsLocal(rel) && rel != "." {
		return "", fmt.Errorf("%w: %s is not inside the rootfs", ErrInvalidSpec, full)
	}
	return "/" + rel, nil
}

// create makes the missing file or directory rel (relative to root, its
// parent existing) without following a symlink anywhere on the way.
func createInRoot(root, rel string, dir bool) error {
	parent, base := filepath.Split(rel)
	r, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer r.Close()
	pd, err := pathrs.MkdirAllHandle(r, "/"+strings.TrimSuffix(parent, "/"), 0o755)
	if err != nil {
		return err
	}
	defer pd.Close()
	if dir {
		return unix.Mkdirat(int(pd.Fd()), base, 0o755)
	}
	fd, err := unix.Openat(int(pd.Fd()), base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

// handle opens target (a host path under st.root that ensure returned)
// again, inside the rootfs.
func (s *stubs) handle(target string) (*os.File, error) {
	rel, err := relInRoot(s.root, target)
	if err != nil {
		return nil, err
	}
	h, err := openInRoot(s.root, rel)
	if err != nil {
		return nil, fmt.Errorf("open mount target %s: %w", rel, err)
	}
	return h, nil
}

// mountOnto mounts src on target through a handle opened inside the rootfs.
func (s *stubs) mountOnto(src, target, fstype string, flags uintptr, data string) error {
	h, err := s.handle(target)
	if err != nil {
		return err
	}
	defer h.Close()
	return unix.Mount(src, fdPath(int(h.Fd())), fstype, flags, data)
}

// remountOnto changes the flags of the mount now at target: the handle is
// opened after the mount, so it is the new mount's root.
func (s *stubs) remountOnto(target string, flags uintptr) error {
	return s.mountOnto("", target, "", flags|unix.MS_REMOUNT, "")
}

// mkdirAllInRoot creates the directory p (a path in the container) and its
// parents inside root, as createInRoot does: the working directory may lie
// in a cache mount another step is changing.
func mkdirAllInRoot(root, p string) error {
	r, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer r.Close()
	d, err := pathrs.MkdirAllHandle(r, p, 0o755)
	if err != nil {
		// The error names host paths (the run's directory, and whatever
		// a /proc/self/fd/N resolved to): say only what went wrong.
		var errno unix.Errno
		if errors.As(err, &errno) {
			return errno
		}
		return err
	}
	return d.Close()
}
