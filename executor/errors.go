package executor

import "errors"

var (
	// ErrNotFound reports a COPY source that matches nothing.
	ErrNotFound = errors.New("not found")
	// ErrUnknownUser reports a user or group name missing from the rootfs's
	// /etc/passwd or /etc/group.
	ErrUnknownUser = errors.New("unknown user")
	// ErrExecNotFound reports a command that could not be found or executed
	// inside the container.
	ErrExecNotFound = errors.New("executable not found")
	// ErrInvalidSpec reports a Spec or CopySpec that cannot be run as given.
	ErrInvalidSpec = errors.New("invalid spec")
	// ErrTooManyLayers reports a layer stack whose overlay mount options do
	// not fit in one page.
	ErrTooManyLayers = errors.New("too many layers for one overlay mount")
)
