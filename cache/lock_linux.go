package cache

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// flock takes an advisory lock on f's open file description. Locks on
// different descriptions conflict even within one process, which is what
// lets two Stores in one process behave like two processes.
func flock(f *os.File, exclusive, wait bool) error {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	if !wait {
		how |= unix.LOCK_NB
	}
	for {
		err := unix.Flock(int(f.Fd()), how)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.EWOULDBLOCK) {
			return errLocked
		}
		return err
	}
}

func funlock(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_UN)
}

// syncFS flushes the filesystem holding f. AddLayer uses it once per layer
// instead of fsyncing every file of a diff written by a container.
func syncFS(f *os.File) error {
	return unix.Syncfs(int(f.Fd()))
}
