package exporter

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"golang.org/x/sys/unix"
)

// noFollow makes open(2) fail on a symlink.
const noFollow = unix.O_NOFOLLOW

func pathError(op, path string, err error) error {
	return &fs.PathError{Op: op, Path: path, Err: err}
}

func lstat(path string) (fileStat, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return fileStat{}, pathError("lstat", path, err)
	}
	fst := fileStat{
		perm:  int64(st.Mode & 07777),
		uid:   int(st.Uid),
		gid:   int(st.Gid),
		dev:   uint64(st.Dev),
		ino:   st.Ino,
		nlink: uint64(st.Nlink),
		size:  st.Size,
		mtime: time.Unix(int64(st.Mtim.Sec), int64(st.Mtim.Nsec)),
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		fst.kind = kindDir
	case unix.S_IFREG:
		fst.kind = kindReg
	case unix.S_IFLNK:
		fst.kind = kindSymlink
	case unix.S_IFCHR:
		fst.kind = kindChar
	case unix.S_IFBLK:
		fst.kind = kindBlock
	case unix.S_IFIFO:
		fst.kind = kindFifo
	case unix.S_IFSOCK:
		fst.kind = kindSocket
	}
	if fst.kind == kindChar || fst.kind == kindBlock {
		fst.major = int64(unix.Major(uint64(st.Rdev)))
		fst.minor = int64(unix.Minor(uint64(st.Rdev)))
	}
	return fst, nil
}

func listXattrs(path string) ([]string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Llistxattr(path, buf)
		switch {
		case errors.Is(err, unix.ERANGE):
			size, err := unix.Llistxattr(path, nil)
			if err != nil {
				return nil, pathError("listxattr", path, err)
			}
			buf = make([]byte, size)
			continue
		case errors.Is(err, unix.ENOTSUP):
			return nil, nil
		case err != nil:
			return nil, pathError("listxattr", path, err)
		}
		var names []string
		for _, b := range bytes.Split(buf[:n], []byte{0}) {
			if len(b) > 0 {
				names = append(names, string(b))
			}
		}
		return names, nil
	}
}

func getXattr(path, name string) ([]byte, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Lgetxattr(path, name, buf)
		switch {
		case errors.Is(err, unix.ERANGE):
			size, err := unix.Lgetxattr(path, name, nil)
			if err != nil {
				return nil, pathError("getxattr "+name, path, err)
			}
			buf = make([]byte, size)
			continue
		case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP):
			return nil, nil
		case err != nil:
			return nil, pathError("getxattr "+name, path, err)
		}
		return buf[:n], nil
	}
}

func setXattr(path, name string, value []byte) error {
	if err := unix.Lsetxattr(path, name, value, 0); err != nil {
		return pathError("setxattr "+name, path, err)
	}
	return nil
}

func mknod(path string, typ byte, perm, major, minor int64) error {
	mode := uint32(perm & 07777)
	switch typ {
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	case tar.TypeFifo:
		mode |= unix.S_IFIFO
	default:
		return fmt.Errorf("mknod type %q: %w", typ, ErrUnsupportedEntry)
	}
	dev := unix.Mkdev(uint32(major), uint32(minor))
	if err := unix.Mknod(path, mode, int(dev)); err != nil {
		return pathError("mknod", path, err)
	}
	return nil
}

func lchown(path string, uid, gid int) error {
	if err := unix.Lchown(path, uid, gid); err != nil {
		return pathError("lchown", path, err)
	}
	return nil
}

// chmod sets the permission bits including setuid, setgid and sticky,
// which os.Chmod only takes as os.FileMode flags.
func chmod(path string, perm int64) error {
	if err := unix.Fchmodat(unix.AT_FDCWD, path, uint32(perm&07777), 0); err != nil {
		return pathError("chmod", path, err)
	}
	return nil
}

// lutimes sets the times of path itself, also when it is a symlink.
func lutimes(path string, atime, mtime time.Time) error {
	at, err := unix.TimeToTimespec(atime)
	if err != nil {
		return pathError("utimes", path, err)
	}
	mt, err := unix.TimeToTimespec(mtime)
	if err != nil {
		return pathError("utimes", path, err)
	}
	ts := []unix.Timespec{at, mt}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return pathError("utimes", path, err)
	}
	return nil
}
