package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/container"
	"github.com/kiln-build/kiln/executor"
)

type execFlags struct {
	interactive bool
	tty         bool
	env         []string
	workdir     string
	user        string
}

func newExecCommand(g *globals) *cobra.Command {
	var f execFlags
	c := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Run a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			return runExec(c, g, &f, args[0], args[1:])
		},
	}
	fl := c.Flags()
	fl.SetInterspersed(false)
	fl.BoolVarP(&f.interactive, "interactive", "i", false, "keep STDIN open")
	fl.BoolVarP(&f.tty, "tty", "t", false, "allocate a pseudo-TTY")
	fl.StringArrayVarP(&f.env, "env", "e", nil, "set an environment variable (K=V, or K to take it from the environment); repeatable")
	fl.StringVarP(&f.workdir, "workdir", "w", "", "working directory inside the container")
	fl.StringVarP(&f.user, "user", "u", "", "user (name|uid[:group|gid])")
	return c
}

func runExec(c *cobra.Command, g *globals, f *execFlags, ref string, args []string) error {
	if f.tty && f.interactive && !isTerminal(os.Stdin) {
		return &runtimeError{errors.New("-i -t: the input device is not a TTY")}
	}
	_, ctr, err := g.getContainer(ref)
	if err != nil {
		return &runtimeError{err}
	}
	switch ctr.State.Status {
	case container.Running:
	case container.Paused:
		return &runtimeError{fmt.Errorf("container %s is paused: unpause it first", ctr.Config.Name)}
	default:
		return &runtimeError{fmt.Errorf("container %s is not running", ctr.Config.Name)}
	}
	env := mergeEnv(ctr.Config.Env, f.env)
	cwd := ctr.Config.Cwd
	if f.workdir != "" {
		if !filepath.IsAbs(f.workdir) {
			return &runtimeError{fmt.Errorf("-w %s: the working directory must be absolute", f.workdir)}
		}
		cwd = f.workdir
	}
	user := ctr.Config.User
	if f.user != "" {
		user = f.user
	}
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(signals)
	// In the container's cgroups: pause freezes it too, and it must not
	// escape --memory.
	cgroups, err := container.Cgroups(ctr.Config.ID, ctr.Config.Limits)
	if err != nil {
		return &runtimeError{fmt.Errorf("exec in %s: %w", ctr.Config.Name, err)}
	}
	spec := executor.ExecSpec{
		Pid: ctr.State.Pid, Args: args, Env: env, Cwd: cwd, User: user, Tty: f.tty,
		Security: ctr.Config.Security,
		Stdout:   os.Stdout, Stderr: os.Stderr, Signals: signals,
		Cgroups: cgroups,
	}
	if f.interactive {
		spec.Stdin = os.Stdin
	}
	code, err := exitStatus(executor.New().Exec(c.Context(), spec))
	switch {
	case errors.Is(err, executor.ErrExecNotFound):
		fmt.Fprintln(os.Stderr, "error:", err)
		return &exitError{code: code}
	case err != nil:
		return &runtimeError{fmt.Errorf("exec in %s: %w", ctr.Config.Name, err)}
	case code != 0:
		return &exitError{code: code}
	}
	return nil
}
