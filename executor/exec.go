package executor

import (
	"fmt"
	"io"
	"os"
)

// ExecSpec describes a process to start inside a running container.
type ExecSpec struct {
	// Pid is the container's process in the host's pid namespace: the new
	// process joins its mount, pid, uts, ipc and network namespaces.
	Pid            int
	Args           []string
	Env            []string // as Spec.Env
	Cwd            string   // absolute; "" is /
	User           string   // as Spec.User, resolved in the container's files
	Tty            bool
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Signals        <-chan os.Signal
	// Cgroups are cgroup directories the helper that enters the namespaces
	// starts in, as Spec.Cgroups: the process it starts is its child, so
	// they hold the process too.
	Cgroups []string
	// Started, if set, is called with the host pid of the helper before it
	// enters the namespaces.
	Started func(pid int) error
	// Security is the container's: the process gets the same capabilities,
	// seccomp filter and no_new_privs as the container's own, as under
	// Docker. (Masked paths and devices are the container's already.)
	Security Security
}

func (s *ExecSpec) validate() error {
	if s.Pid <= 0 {
		return fmt.Errorf("%w: no container process to join", ErrInvalidSpec)
	}
	if len(s.Args) == 0 || s.Args[0] == "" {
		return fmt.Errorf("%w: no command", ErrInvalidSpec)
	}
	if s.Cwd != "" && s.Cwd[0] != '/' {
		return fmt.Errorf("%w: working directory %q is not absolute", ErrInvalidSpec, s.Cwd)
	}
	return nil
}
