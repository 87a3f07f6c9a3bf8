package solver

import (
	"errors"
	"fmt"

	"github.com/kiln-build/kiln/llb"
)

// ErrUnknownOp is returned for an op kind the solver cannot run.
var ErrUnknownOp = errors.New("unknown op")

// VertexError is a step that failed: which step (its Meta carries the source
// file, line and text), why, and the last lines of its output.
type VertexError struct {
	Meta llb.Meta
	Err  error
	Tail []byte // the end of the step's output, for the user
	// DebugID names the failed step's container, kept for kiln debug
	// (Options.KeepFailed; debug.go).
	DebugID string
}

func (e *VertexError) Error() string {
	if e.Meta.Text != "" {
		return fmt.Sprintf("%s: %v", e.Meta.Text, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Meta.Name, e.Err)
}

func (e *VertexError) Unwrap() error { return e.Err }
