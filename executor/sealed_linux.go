package executor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// CVE-2019-5736 overwrote runc on the host: a container process opened
// /proc/PID/exe of the runtime (or made the runtime exec itself through a
// `#!/proc/self/exe` interpreter) and wrote to it once it exited. The init
// kiln starts in every container is therefore never started from the kiln
// file as the host sees it, but from a handle no write can go through:
//
//   - first choice, as runc 1.2 does: the binary as seen through a private
//     overlayfs made of two lower layers and no upper one (fsopen/fsmount),
//     never attached to any mount namespace. An overlay without an upper
//     layer is read-only in its superblock, not just in its mount flags:
//     opening the file for writing fails with EROFS, and so it still does
//     after clearing MOUNT_ATTR_RDONLY (mount_setattr), the one thing a
//     process holding the mount could change. No copy is made: this costs a
//     few syscalls where the copy below costs milliseconds per process.
//   - where overlayfs or the new mount API is missing: a copy in a sealed
//     memfd, which refuses writes, growth and shrinking, and whose seals
//     cannot be removed.
//
// /proc/PID/exe of the init, and of anything it execs through
// /proc/self/exe, is then that handle. It is made once per process and
// shared by every container it starts.

var sealed struct {
	once sync.Once
	f    *os.File
	err  error
}

const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE

// sealedExe returns the path the init is started from: /proc/self/fd/N of
// a close-on-exec descriptor of this binary that cannot be written through
// (see above). The fd is this process's, so the path resolves in the forked
// child before its execve.
func sealedExe() (string, error) {
	sealed.once.Do(func() {
		f, err := overlayExe()
		if err != nil {
			f, err = memfdExe()
		}
		if err == nil {
			// The forked child dup2s its ExtraFiles onto fds 3, 4, …:
			// keep the binary's fd far above them, or it would be
			// replaced before execve.
			f, err = highFd(f)
		}
		sealed.f, sealed.err = f, err
	})
	if sealed.err != nil {
		return "", sealed.err
	}
	return fmt.Sprintf("/proc/self/fd/%d", sealed.f.Fd()), nil
}

func highFd(f *os.File) (*os.File, error) {
	defer f.Close()
	high, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 100)
	if err != nil {
		return nil, fmt.Errorf("seal kiln binary: dup: %w", err)
	}
	return os.NewFile(uintptr(high), f.Name()), nil
}

// overlayDummies are directories one of which serves as the overlay's
// second lower layer (overlayfs wants two without an upper one). It must
// not contain, or lie inside, the binary's directory; its files only show
// under the binary's, which is the top layer.
var overlayDummies = []string{"/dev", "/run", "/var", "/tmp", "/etc"}

// overlayExe opens this binary through a detached, lower-only overlay.
func overlayExe() (*os.File, error) {
	mnt, name, err := overlayMount()
	if err != nil {
		return nil, err
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "kiln (read-only overlay)")
	// The file must be this binary, not one of the dummy's: overlayfs
	// reports the lower inode's number, size and times.
	var got, want unix.Stat_t
	if err := unix.Fstat(fd, &got); err != nil {
		f.Close()
		return nil, err
	}
	if err := unix.Stat("/proc/self/exe", &want); err != nil {
		f.Close()
		return nil, err
	}
	if got.Ino != want.Ino || got.Size != want.Size || got.Mtim != want.Mtim || got.Ctim != want.Ctim {
		f.Close()
		return nil, errors.New("the overlay shows another file than /proc/self/exe")
	}
	return f, nil
}

// overlayMount makes the detached overlay over this binary's directory and
// returns its mount fd and the binary's name in it.
func overlayMount() (mnt int, name string, err error) {
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return -1, "", err
	}
	if !filepath.IsAbs(self) || strings.HasSuffix(self, " (deleted)") {
		return -1, "", fmt.Errorf("kiln binary %q is not on a path", self)
	}
	dir, name := filepath.Split(self)
	dir = filepath.Clean(dir)
	dummy := ""
	for _, d := range overlayDummies {
		if !within(dir, d) && !within(d, dir) {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				dummy = d
				break
			}
		}
	}
	if dummy == "" {
		return -1, "", errors.New("no directory for the overlay's second layer")
	}
	ctx, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, "", err
	}
	defer unix.Close(ctx)
	esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`, `,`, `\,`)
	if err := unix.FsconfigSetString(ctx, "lowerdir", esc.Replace(dir)+":"+esc.Replace(dummy)); err != nil {
		return -1, "", err
	}
	// Only to keep dmesg quiet when the layers are on different
	// filesystems; the inode numbers do not matter here.
	_ = unix.FsconfigSetString(ctx, "xino", "off")
	if err := unix.FsconfigCreate(ctx); err != nil {
		return -1, "", err
	}
	mnt, err = unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return -1, "", err
	}
	return mnt, name, nil
}

// within reports whether path is dir or lies below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && filepath.IsLocal(rel)
}

// memfdExe copies this binary into a sealed memfd.
func memfdExe() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("seal kiln binary: %w", err)
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("kiln", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("seal kiln binary: memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "kiln (sealed)")
	if err := copyIn(f, src); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal kiln binary: copy: %w", err)
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal kiln binary: add seals: %w", err)
	}
	// execve refuses a file someone holds open for writing (ETXTBSY):
	// keep a read-only descriptor only.
	ro, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), os.O_RDONLY|unix.O_CLOEXEC, 0)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("seal kiln binary: reopen: %w", err)
	}
	return ro, nil
}

// copyIn copies src into the memfd dst in the kernel with sendfile: io.Copy
// falls back to a read/write loop between a disk file and a memfd
// (copy_file_range does not cross filesystems).
func copyIn(dst, src *os.File) error {
	st, err := src.Stat()
	if err != nil {
		return err
	}
	for left := st.Size(); left > 0; {
		n, err := unix.Sendfile(int(dst.Fd()), int(src.Fd()), nil, int(min(left, 1<<30)))
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil {
			// Some kernels refuse sendfile here; copy the rest by hand.
			_, err = io.Copy(dst, src)
			return err
		}
		if n == 0 {
			return io.ErrUnexpectedEOF
		}
		left -= int64(n)
	}
	return nil
}
