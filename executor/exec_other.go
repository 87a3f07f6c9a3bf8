//go:build !linux

package executor

import (
	"context"
	"errors"
)

// Exec is supported on Linux only.
func (r *Runner) Exec(ctx context.Context, s ExecSpec) error { return errors.ErrUnsupported }
