//go:build !linux

package cache

import (
	"io/fs"
	"os"
)

func statOf(fi fs.FileInfo) (fileStat, bool) { return fileStat{}, false }

func openNoFollow(p string) (*os.File, error) { return os.Open(p) }
