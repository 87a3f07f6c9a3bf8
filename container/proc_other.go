//go:build !linux

package container

import "errors"

// ProcessStartTime is supported on Linux only.
func ProcessStartTime(pid int) (uint64, error) { return 0, errors.ErrUnsupported }

// Alive is false outside Linux: kiln runs no containers there.
func Alive(pid int, start uint64) bool { return false }

// ReadNetStats is supported on Linux only.
func (c *Container) ReadNetStats() (NetStats, error) { return NetStats{}, errors.ErrUnsupported }
