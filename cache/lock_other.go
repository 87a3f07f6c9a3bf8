//go:build !linux

package cache

import (
	"errors"
	"os"
)

func flock(f *os.File, exclusive, wait bool) error { return errors.ErrUnsupported }

func funlock(f *os.File) error { return errors.ErrUnsupported }

func syncFS(f *os.File) error { return f.Sync() }
