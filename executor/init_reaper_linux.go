package executor

// Spec.Init (docker run --init): kiln's init stays PID 1 of the container
// instead of executing the command, as tini does for Docker.
//
//	kiln-init (PID 1)                           command (PID 2)
//	    |-- {"exec":true} on fd 4                    |
//	    |-- fork+exec(Args), Pdeathsig=KILL -------->|
//	    |-- close fd 4: the parent sees EOF          |
//	    |-- signals it gets, forwarded ------------->|
//	    |-- wait4(-1): reaps every orphan that the   |
//	    |   kernel re-parents to PID 1               |
//	    |<-- the command's exit ---------------------|
//	    exits with its status (128+N for signal N); the kernel then kills
//	    whatever is left in the pid namespace.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// execReaper runs path as a child of this init and reaps until it exits;
// it only returns on failure to start the child.
func execReaper(path string, args, env []string, enc *json.Encoder) error {
	// Signals sent to the container arrive here (PID 1 only gets those it
	// handles: catching them all is what makes them deliverable).
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	if err := enc.Encode(initMsg{Exec: true}); err != nil {
		return err
	}
	// The child gets the terminal and the process group of init, so a
	// terminal's signals and job control reach it directly.
	pid, err := syscall.ForkExec(path, args, &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		return &kindError{msg: fmt.Sprintf("exec %q: %v", args[0], err), kind: ErrExecNotFound}
	}
	// The status pipe's EOF tells the parent the command runs. /dev/null
	// takes fd 4's place rather than leaving it free: the *os.File over it
	// still closes it some day.
	if null, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0); err == nil {
		_ = unix.Dup3(null, 4, unix.O_CLOEXEC)
		_ = unix.Close(null)
	} else {
		_ = unix.Close(4)
	}
	go func() {
		for s := range sigs {
			switch s {
			case syscall.SIGCHLD, syscall.SIGURG: // ours: reaping; Go's preemption
				continue
			}
			_ = syscall.Kill(pid, s.(syscall.Signal))
		}
	}()
	for {
		var ws syscall.WaitStatus
		wpid, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			// ECHILD cannot happen before the command is reaped; exit
			// as the runtime would rather than spin.
			os.Exit(exitRuntimeInit)
		}
		if wpid != pid {
			continue // an orphan: reaped, nothing more
		}
		switch {
		case ws.Exited():
			os.Exit(ws.ExitStatus())
		case ws.Signaled():
			os.Exit(128 + int(ws.Signal()))
		}
	}
}

// exitRuntimeInit is init's status when it lost track of the command.
const exitRuntimeInit = 125
