package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/kiln-build/kiln/frontend/dockerfile"
	"github.com/kiln-build/kiln/solver"
)

// tailLines is how much of a failed step's output the error repeats.
const tailLines = 20

// formatError renders err for users: a failed step as
// "Dockerfile:7: RUN make: exit code 2" followed by the tail of its output.
func formatError(err error) string {
	var fe *dockerfile.Error
	if errors.As(err, &fe) {
		return fe.Error()
	}
	var ve *solver.VertexError
	if !errors.As(err, &ve) {
		return "error: " + err.Error()
	}
	var b strings.Builder
	if ve.Meta.File != "" {
		fmt.Fprintf(&b, "%s:%d: ", ve.Meta.File, ve.Meta.Line)
	}
	b.WriteString(ve.Error())
	tail := bytes.TrimRight(ve.Tail, "\n")
	if len(tail) > 0 {
		lines := strings.Split(string(tail), "\n")
		if len(lines) > tailLines {
			lines = lines[len(lines)-tailLines:]
		}
		b.WriteString("\n")
		for _, l := range lines {
			fmt.Fprintf(&b, "  > %s\n", l)
		}
	}
	if ve.DebugID != "" {
		if !strings.HasSuffix(b.String(), "\n") {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "kept the failed step's container %s: kiln debug %s [COMMAND]\n", ve.DebugID, ve.DebugID)
	}
	return strings.TrimRight(b.String(), "\n")
}
