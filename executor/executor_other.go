//go:build !linux

package executor

import (
	"context"
	"errors"
)

// MaybeInit returns: there is no init to run outside Linux.
func MaybeInit() {}

// Run is supported on Linux only.
func (r *Runner) Run(ctx context.Context, s Spec) error { return errors.ErrUnsupported }

// Copy is supported on Linux only.
func (r *Runner) Copy(ctx context.Context, c CopySpec) error { return errors.ErrUnsupported }
