package executor

import (
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// CVE-2019-5736 overwrote runc on the host: a container process opened
// /proc/PID/exe of the runtime (or made the runtime exec itself through a
// `#!/proc/self/exe` interpreter) and wrote to it once it exited. The init
// kiln starts in every container is therefore never the kiln file on disk
// but a sealed in-memory copy of it: /proc/PID/exe of the init, and of
// anything it execs through /proc/self/exe, is the memfd, which refuses
// writes, growth and shrinking, and whose seals cannot be removed. The copy
// is made once per process and shared by every container it starts.

var sealed struct {
	once sync.Once
	f    *os.File
	err  error
}

const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE

// sealedExe returns the path the init is started from: /proc/self/fd/N of
// a sealed, close-on-exec memfd holding a copy of this binary. The fd is
// this process's, so the path resolves in the forked child before its
// execve.
func sealedExe() (string, error) {
	sealed.once.Do(func() { sealed.f, sealed.err = sealExe() })
	if sealed.err != nil {
		return "", sealed.err
	}
	return fmt.Sprintf("/proc/self/fd/%d", sealed.f.Fd()), nil
}

func sealExe() (*os.File, error) {
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
	defer ro.Close()
	// The forked child dup2s its ExtraFiles onto fds 3, 4, …: keep the
	// binary's fd far above them, or it would be replaced before execve.
	high, err := unix.FcntlInt(ro.Fd(), unix.F_DUPFD_CLOEXEC, 100)
	if err != nil {
		return nil, fmt.Errorf("seal kiln binary: dup: %w", err)
	}
	return os.NewFile(uintptr(high), "kiln (sealed)"), nil
}

// copyIn copies src into the memfd dst in the kernel with sendfile: every
// container start pays for this copy, and io.Copy falls back to a
// read/write loop between a disk file and a memfd (copy_file_range does
// not cross filesystems).
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
