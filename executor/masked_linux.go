package executor

import (
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// maskedPaths and readonlyPaths are runc's defaults (Docker's too).
var (
	maskedPaths = []string{
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// maskPaths hides maskedPaths (/dev/null over files, an empty read-only
// tmpfs over directories) and makes readonlyPaths read-only. It runs in
// the init after pivot_root, so every path is the container's.
//
// CVE-2025-31133 broke runc by swapping its /dev/null for a symlink to a
// procfs file, which runc then bind-mounted writable over a masked path.
// Here nothing is ever mounted by name: the /dev/null we bind is opened
// O_PATH|O_NOFOLLOW and checked to be the char device 1:3, each target is
// opened O_PATH|O_NOFOLLOW, and the bind goes from fd to fd through
// /proc/self/fd, so a path swapped after the check is never followed.
func maskPaths() error {
	null, err := unix.Open("/dev/null", unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("masked paths: open /dev/null (is something mounted over / or /dev?): %w", err)
	}
	defer unix.Close(null)
	var st unix.Stat_t
	if err := unix.Fstat(null, &st); err != nil {
		return fmt.Errorf("stat /dev/null: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		return fmt.Errorf("%w: /dev/null is not the null device (mode %#o, rdev %d:%d)",
			ErrInvalidSpec, st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	for _, p := range maskedPaths {
		if err := maskPath(p, null); err != nil {
			return err
		}
	}
	for _, p := range readonlyPaths {
		if err := readonlyPath(p); err != nil {
			return err
		}
	}
	return nil
}

func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// openTarget opens p without following a final symlink; ok is false when
// there is nothing to mask (the kernel lacks it).
func openTarget(p string) (fd int, st unix.Stat_t, ok bool, err error) {
	fd, err = unix.Open(p, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return -1, st, false, nil
	}
	if err != nil {
		return -1, st, false, fmt.Errorf("open %s: %w", p, err)
	}
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, st, false, fmt.Errorf("stat %s: %w", p, err)
	}
	return fd, st, true, nil
}

func maskPath(p string, null int) error {
	fd, st, ok, err := openTarget(p)
	if err != nil || !ok {
		return err
	}
	defer unix.Close(fd)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		err = unix.Mount("tmpfs", fdPath(fd), "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0,mode=555")
	case unix.S_IFLNK:
		// Our own procfs and sysfs have no symlink at these paths.
		return fmt.Errorf("%w: mask %s: is a symlink", ErrInvalidSpec, p)
	default:
		err = unix.Mount(fdPath(null), fdPath(fd), "", unix.MS_BIND, "")
	}
	if err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	return nil
}

func readonlyPath(p string) error {
	fd, st, ok, err := openTarget(p)
	if err != nil || !ok {
		return err
	}
	defer unix.Close(fd)
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return fmt.Errorf("%w: make %s read-only: is a symlink", ErrInvalidSpec, p)
	}
	if err := unix.Mount(fdPath(fd), fdPath(fd), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make %s read-only: %w", p, err)
	}
	// The new bind is on top of p now: reopen to reach it rather than the
	// directory it covers.
	top, st2, ok, err := openTarget(p)
	if err != nil {
		return fmt.Errorf("make %s read-only: reopen: %w", p, err)
	}
	if !ok {
		return fmt.Errorf("%w: make %s read-only: it vanished under us", ErrInvalidSpec, p)
	}
	defer unix.Close(top)
	if st2.Dev != st.Dev || st2.Ino != st.Ino {
		return fmt.Errorf("%w: make %s read-only: it changed under us", ErrInvalidSpec, p)
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if err := unix.Mount("", fdPath(top), "", flags, ""); err != nil {
		return fmt.Errorf("make %s read-only: %w", p, err)
	}
	return nil
}
