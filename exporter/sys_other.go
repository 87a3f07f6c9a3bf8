//go:build !linux

package exporter

import (
	"errors"
	"time"
)

const noFollow = 0

func lstat(string) (fileStat, error)                { return fileStat{}, errors.ErrUnsupported }
func listXattrs(string) ([]string, error)           { return nil, errors.ErrUnsupported }
func getXattr(string, string) ([]byte, error)       { return nil, errors.ErrUnsupported }
func setXattr(string, string, []byte) error         { return errors.ErrUnsupported }
func mknod(string, byte, int64, int64, int64) error { return errors.ErrUnsupported }
func lchown(string, int, int) error                 { return errors.ErrUnsupported }
func chmod(string, int64) error                     { return errors.ErrUnsupported }
func lutimes(string, time.Time, time.Time) error    { return errors.ErrUnsupported }
