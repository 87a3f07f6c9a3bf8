package container

import "errors"

var (
	// ErrNotFound reports a name or ID that matches no container.
	ErrNotFound = errors.New("no such container")
	// ErrAmbiguous reports an ID prefix that matches several containers.
	ErrAmbiguous = errors.New("ambiguous container ID prefix")
	// ErrNameInUse reports a name another container already has.
	ErrNameInUse = errors.New("container name already in use")
	// ErrInvalidName reports a name Docker's rules would refuse.
	ErrInvalidName = errors.New("invalid container name")
	// ErrNoCgroup reports a container cgroup that could not be found or
	// made: no cgroup filesystem or controller for it, or a container
	// without its cgroup.
	ErrNoCgroup = errors.New("no cgroup")
)
