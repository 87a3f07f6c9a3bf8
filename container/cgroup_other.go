//go:build !linux

package container

import "errors"

// FreezerCgroup is supported on Linux only.
func FreezerCgroup(id string) (string, error) { return "", errors.ErrUnsupported }

// Freeze is supported on Linux only.
func Freeze(id string) error { return errors.ErrUnsupported }

// Thaw is supported on Linux only.
func Thaw(id string) error { return errors.ErrUnsupported }

// Frozen is false outside Linux.
func Frozen(id string) (bool, error) { return false, errors.ErrUnsupported }

// RemoveCgroup has nothing to remove outside Linux.
func RemoveCgroup(id string) error { return nil }
