package main

// Every container has a supervisor: the kiln process that starts it through
// the executor, records its state, writes its log and applies its restart
// policy. In the foreground (run, start -a) that is the CLI itself; for a
// detached container the CLI re-executes itself as the hidden
// "kiln-supervise" command in a session of its own and goes away:
//
//	kiln run -d / start                    kiln kiln-supervise ID (setsid)
//	    |-- exec, fd 3 = report pipe --------->|
//	    |                                      |-- executor.Run: container
//	    |                                      |   Started(pid): cgroup, state.json
//	    |<--------- {"ok":true} on fd 3 -------|   Execed: the command runs
//	    |<--------- or {"error":…,"code":N} ---|   (it could not start)
//	    |  prints the ID, exits                |   waits, logs, records the exit,
//	                                           |   restarts per policy, --rm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/container"
	"github.com/kiln-build/kiln/executor"
)

const superviseCommand = "kiln-supervise"

// startReport is what a detached supervisor tells the CLI that started it.
type startReport struct {
	OK    bool   `json:"ok,omitempty"`
	Error string `json:"error,omitempty"`
	Code  int    `json:"code,omitempty"` // the exit status the CLI should use
}

// superviseIO is where a supervised container's streams go besides its log.
type superviseIO struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	signals        <-chan os.Signal
	// report is called once: with nil when the first start executed the
	// command, or with why it could not.
	report func(error)
}

// supervise runs c until it exits for good (restart policy included) and
// returns its last exit status. An error is a failure to run it at all.
func supervise(ctx context.Context, cs *container.Store, c *container.Container, sio superviseIO) (int, error) {
	reported := false
	report := func(err error) {
		if !reported && sio.report != nil {
			sio.report(err)
		}
		reported = true
	}
	code, err := superviseLoop(ctx, cs, c, sio, report)
	report(err)
	if !c.Config.AutoRemove {
		_ = container.RemoveCgroup(c.Config.ID)
	}
	if c.Config.AutoRemove { // cs.Remove removes the cgroups too
		if rerr := cs.Remove(c); rerr != nil {
			// The exit superviseLoop did not record, for a record that
			// was to go.
			_ = c.SaveState()
			if err == nil {
				err = rerr
			}
		}
		if rerr := removeAnonymousVolumes(cs, c); rerr != nil && err == nil {
			err = rerr
		}
	}
	return code, err
}

func superviseLoop(ctx context.Context, cs *container.Store, c *container.Container, sio superviseIO, report func(error)) (int, error) {
	log, err := container.OpenLog(c.LogPath())
	if err != nil {
		return exitRuntime, err
	}
	defer log.Close()
	selfStart, err := container.ProcessStartTime(os.Getpid())
	if err != nil {
		return exitRuntime, fmt.Errorf("supervisor start time: %w", err)
	}
	_ = os.Remove(stopMarker(c))
	c.State.RestartCount = 0
	var stdout, stderr io.Writer = log.Stream("stdout"), log.Stream("stderr")
	if c.Config.Tty {
		stderr = stdout
	}
	if sio.stdout != nil {
		if c.Config.Tty {
			// The executor sizes the pty from the terminal it is given:
			// it gets the terminal, not a tee of it; a tty's output is not
			// logged in the foreground.
			stdout = sio.stdout
		} else {
			stdout, stderr = io.MultiWriter(sio.stdout, stdout), io.MultiWriter(sio.stderr, stderr)
		}
	}
	runDir, err := cs.RunDir()
	if err != nil {
		return exitRuntime, err
	}
	runner := executor.New(executor.WithRunDir(runDir))
	net, err := openNetwork(cs, c)
	if err != nil {
		return exitRuntime, err
	}
	defer net.close()
	for {
		spec := specFor(c)
		spec.Stdin, spec.Stdout, spec.Stderr, spec.Signals = sio.stdin, stdout, stderr, sio.signals
		execed := false
		// The container starts in its cgroups: the freezer, and its limits.
		cgroups, cgErr := container.Cgroups(c.Config.ID, c.Config.Limits)
		spec.Cgroups = cgroups
		spec.Started = func(pid int) error {
			if cgErr != nil {
				return cgErr
			}
			start, err := container.ProcessStartTime(pid)
			if err != nil {
				return fmt.Errorf("container start time: %w", err)
			}
			att, err := net.attach(c, pid, start, sio.stderr)
			if err != nil {
				return err
			}
			c.State = container.State{
				Status: container.Running, Pid: pid, StartTime: start,
				SupervisorPid: os.Getpid(), SupervisorStart: selfStart,
				StartedAt: time.Now().UTC(), RestartCount: c.State.RestartCount,
				Net: att, Ports: net.ports,
			}
			return c.SaveState()
		}
		spec.Execed = func() {
			execed = true
			report(nil)
		}
		err := runner.Run(ctx, spec)
		net.detach()
		log.Flush()
		code, runErr := exitStatus(err)
		c.State.Status = container.Exited
		c.State.ExitCode = code
		c.State.FinishedAt = time.Now().UTC()
		c.State.Error = ""
		if runErr != nil {
			c.State.Error = runErr.Error()
		}
		// A --rm container's record is removed next (supervise): writing
		// its exit first would be undone at once.
		saveExit := func() {
			if !c.Config.AutoRemove {
				_ = c.SaveState()
			}
		}
		if !execed {
			// The command never ran: no policy makes that work next time.
			saveExit()
			return code, runErr
		}
		if _, err := os.Stat(stopMarker(c)); err == nil || !c.Config.Restart.ShouldRestart(code, c.State.RestartCount) {
			saveExit()
			return code, nil
		}
		c.State.Status = container.Restarting
		c.State.RestartCount++
		if err := c.SaveState(); err != nil {
			return code, nil // removed under us
		}
		// Docker's back-off: 100ms, doubling, at most a minute; stop may
		// come meanwhile.
		delay := 100 * time.Millisecond << min(c.State.RestartCount-1, 9)
		for t := time.Duration(0); t < delay; t += 20 * time.Millisecond {
			if _, err := os.Stat(stopMarker(c)); err == nil {
				c.State.Status = container.Exited
				_ = c.SaveState()
				return code, nil
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// exitStatus maps what executor.Run returned to the status kiln exits with
// and, for failures of kiln rather than of the command, an error.
func exitStatus(err error) (int, error) {
	var ee *executor.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		return ee.Code, nil
	case errors.Is(err, executor.ErrExecNotFound):
		return exitNotFound, err
	}
	return exitRuntime, err
}

// specFor is the executor's Spec for a container's config.
func specFor(c *container.Container) executor.Spec {
	cfg := c.Config
	return executor.Spec{
		// A --rm container's upper goes with it: no need to sync it.
		Rootfs:    executor.Rootfs{Lower: cfg.Lower, Upper: c.UpperDir(), Work: c.WorkDir(), Volatile: cfg.AutoRemove},
		Args:      cfg.Args,
		Env:       cfg.Env,
		Cwd:       cfg.Cwd,
		User:      cfg.User,
		Hostname:  cfg.Hostname,
		Names:     cfg.Names,
		Network:   executorNetwork(cfg),
		HostsFile: hostsFile(c),
		Tty:       cfg.Tty,
		Mounts:    executorMounts(c),
		Init:      cfg.Init,
		Security:  cfg.Security,
		Rlimits:   cfg.Limits.Ulimits,
	}
}

func newSuperviseCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    superviseCommand + " ID",
		Hidden: true,
		Args:   exactArgs(1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep := os.NewFile(3, "report")
			cs, c, err := g.getContainer(args[0])
			if err != nil {
				_ = json.NewEncoder(rep).Encode(startReport{Error: err.Error(), Code: exitRuntime})
				return err
			}
			signals := make(chan os.Signal, 16)
			signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
			signal.Ignore(syscall.SIGPIPE)
			_, err = supervise(cmd.Context(), cs, c, superviseIO{
				signals: signals,
				report: func(err error) {
					r := startReport{OK: err == nil}
					if err != nil {
						r.Code, _ = exitStatus(err)
						r.Error = err.Error()
					}
					_ = json.NewEncoder(rep).Encode(r)
					rep.Close()
				},
			})
			return err
		},
	}
}

// startDetached starts c under a detached supervisor and returns once its
// command runs (or could not be run).
func startDetached(g *globals, c *container.Container) error {
	root, err := filepath.Abs(g.root)
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	slog, err := os.OpenFile(filepath.Join(c.Dir(), "supervise.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		w.Close()
		return fmt.Errorf("start container %s: %w", c.Config.Name, err)
	}
	defer slog.Close()
	cmd := exec.Command("/proc/self/exe", "--root", root, superviseCommand, c.Config.ID)
	cmd.Stdout, cmd.Stderr = slog, slog
	cmd.ExtraFiles = []*os.File{w}
	// A session of its own: no terminal's hangup or job control reaches it,
	// and it outlives this process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fmt.Errorf("start supervisor: %w", err)
	}
	go func() { _ = cmd.Wait() }()
	var rep startReport
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return fmt.Errorf("container %s: the supervisor exited before starting it (see %s)", c.Config.Name, slog.Name())
	}
	if !rep.OK {
		if rep.Code == exitNotFound {
			fmt.Fprintln(os.Stderr, "error:", rep.Error)
			return &exitError{code: exitNotFound}
		}
		return &runtimeError{errors.New(rep.Error)}
	}
	return nil
}
