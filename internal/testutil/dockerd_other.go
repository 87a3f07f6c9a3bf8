//go:build !linux

package testutil

import "errors"

// StartDockerd needs Linux: dockerd runs nowhere else.
func StartDockerd(parent string) (*Dockerd, error) { return nil, errors.ErrUnsupported }

// Stop has nothing to stop where StartDockerd cannot start an engine.
func (d *Dockerd) Stop() error { return errors.ErrUnsupported }
