//go:build !linux

package testutil

import "errors"

func probeOverlay() error { return errors.ErrUnsupported }
