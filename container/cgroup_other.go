//go:build !linux

package container

import (
	"errors"
	"fmt"
)

// Cgroups makes nothing outside Linux: limits need Linux's cgroups.
func Cgroups(id string, l Limits) ([]string, error) {
	if l.cgroupNeeded() {
		return nil, fmt.Errorf("resource limits: %w", errors.ErrUnsupported)
	}
	return nil, nil
}

// RemoveCgroup has nothing to remove outside Linux.
func RemoveCgroup(id string) error { return nil }

// ReadStats is supported on Linux only.
func ReadStats(id string) (Stats, error) { return Stats{}, errors.ErrUnsupported }

// Freeze is supported on Linux only.
func Freeze(id string) error { return errors.ErrUnsupported }

// Thaw is supported on Linux only.
func Thaw(id string) error { return errors.ErrUnsupported }

// Frozen is false outside Linux.
func Frozen(id string) (bool, error) { return false, errors.ErrUnsupported }
