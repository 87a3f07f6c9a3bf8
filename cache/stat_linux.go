package cache

import (
	"io/fs"
	"os"
	"syscall"
)

// statOf extracts the stat-cache key of fi; ok is false where the platform
// gives no inode numbers, and then nothing is cached.
func statOf(fi fs.FileInfo) (fileStat, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileStat{}, false
	}
	return fileStat{
		Dev:   uint64(st.Dev),
		Ino:   st.Ino,
		Size:  st.Size,
		Mtime: st.Mtim.Nano(),
		Ctime: st.Ctim.Nano(),
		Mode:  st.Mode,
	}, true
}

// openNoFollow opens a file for reading, failing on a symlink: a context
// file swapped for a link after it was listed must not be read through.
func openNoFollow(p string) (*os.File, error) {
	return os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}
