package dockerfile

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors; match them with errors.Is on what Convert returns.
var (
	// ErrNotSupported is an instruction, flag or syntax Docker has and kiln
	// does not have yet. It is never silently ignored.
	ErrNotSupported = errors.New("not supported yet")
	// ErrUnknownInstruction is a word at the start of a line that is no
	// Dockerfile instruction.
	ErrUnknownInstruction = errors.New("unknown instruction")
	// ErrUnknownFlag is a flag the instruction does not take.
	ErrUnknownFlag = errors.New("unknown flag")
	// ErrUnknownStage is a --from, FROM or target naming no stage (and, where
	// images are allowed, no image either).
	ErrUnknownStage = errors.New("unknown stage")
	// ErrStageOrder is a stage using itself or a stage defined after it.
	ErrStageOrder = errors.New("stage used before it is defined")
	// ErrImageNotFound is what an ImageResolver should return (possibly
	// wrapped) for an image that is not in the store; fs.ErrNotExist is
	// accepted too. Other resolver errors are reported as they are.
	ErrImageNotFound = errors.New("image not found")
	// ErrSyntax is a malformed instruction: missing arguments, bad JSON, a bad
	// variable substitution, a bad flag value.
	ErrSyntax = errors.New("syntax error")
	// ErrNoStage is a Dockerfile without FROM, or with an instruction other
	// than ARG before the first FROM.
	ErrNoStage = errors.New("no build stage")
)

// Error is what users see for a bad Dockerfile, e.g.
//
//	Dockerfile:7: COPY: --from=nope: no stage or image named "nope"
//
// Line is 0 when the error belongs to no line (an empty Dockerfile, an unknown
// target); Instruction is "" when it belongs to no instruction (a syntax error
// the parser found, an unknown instruction). Either is then left out of the
// message rather than printed empty.
type Error struct {
	File        string
	Line        int
	Instruction string // e.g. "COPY"
	Err         error
}

func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	if e.Instruction != "" {
		s += ": " + e.Instruction
	}
	return fmt.Sprintf("%s: %v", s, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// syntaxError wraps ErrSyntax without its text: users read "COPY requires at
// least two arguments", not "syntax error: COPY requires…".
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string        { return e.msg }
func (e *syntaxError) Is(target error) bool { return target == ErrSyntax }

func syntaxErrorf(format string, args ...any) error {
	return &syntaxError{msg: fmt.Sprintf(format, args...)}
}

// nameError is an unknown name with an optional suggestion. It reads
// "no stage or image named "x" (did you mean "y"?)" and matches its sentinel.
type nameError struct {
	msg      string
	sentinel error
	cause    error
}

func (e *nameError) Error() string   { return e.msg }
func (e *nameError) Unwrap() []error { return []error{e.sentinel, e.cause} }
