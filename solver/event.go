package solver

import (
	"time"

	digest "github.com/opencontainers/go-digest"
)

// EventKind says what happened to a vertex.
type EventKind int

const (
	// Started: the step began executing.
	Started EventKind = iota
	// Cached: the step's result came from the cache; nothing ran.
	Cached
	// Done: the step finished executing.
	Done
	// Failed: the step failed, or was cancelled because another one did.
	Failed
	// Log: the step wrote output.
	Log
)

// Event is one progress report. Sinks receive events from many goroutines
// and must be safe for concurrent use.
type Event struct {
	Vertex digest.Digest
	Name   string // the vertex's Meta.Name
	Kind   EventKind
	Time   time.Time
	Stream int    // Log: 1 for stdout, 2 for stderr
	Data   []byte // Log: the bytes written
	Err    error  // Failed: why
	// Reason is, for Started, why the step was not cached: "src/app.go
	// changed", "VERSION changed to \"2\" (was \"1\")", "--no-cache", "no
	// earlier build of this step". Empty when not explaining.
	Reason string
}

// Sink receives events.
type Sink func(Event)
