//go:build !linux

package container

import "errors"

// JoinCgroup is supported on Linux only.
func JoinCgroup(id string, pid int) error { return errors.ErrUnsupported }

// Freeze is supported on Linux only.
func Freeze(id string) error { return errors.ErrUnsupported }

// Thaw is supported on Linux only.
func Thaw(id string) error { return errors.ErrUnsupported }

// Frozen is false outside Linux.
func Frozen(id string) (bool, error) { return false, errors.ErrUnsupported }

// RemoveCgroup has nothing to remove outside Linux.
func RemoveCgroup(id string) error { return nil }
