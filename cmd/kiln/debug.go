package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/executor"
	"github.com/kiln-build/kiln/solver"
)

// debugFlags are kiln build's flags about failed steps.
type debugFlags struct {
	onError string
}

func addDebugFlags(fl *pflag.FlagSet, f *debugFlags) {
	fl.StringVar(&f.onError, "on-error", "", "on a failed RUN: keep (its container, for kiln debug ID) or shell (keep it and open a shell in it; needs a terminal)")
}

// check validates --on-error before the build starts: a build that would
// want a terminal at its end fails now, not after minutes of work.
func (f *debugFlags) check() error {
	switch f.onError {
	case "", "keep":
	case "shell":
		if !isTerminal(os.Stdin) {
			return errors.New("--on-error=shell needs a terminal on stdin (use --on-error=keep, then kiln debug ID)")
		}
	default:
		return fmt.Errorf("--on-error %q: not one of keep, shell", f.onError)
	}
	return nil
}

// keep says whether the solver keeps failed RUNs.
func (f *debugFlags) keep() bool { return f.onError != "" }

// after handles a failed build: with --on-error=shell it opens a shell in
// the kept container, then returns the build's error all the same.
func (f *debugFlags) after(ctx context.Context, store *cache.Store, err error) error {
	var ve *solver.VertexError
	if f.onError != "shell" || !errors.As(err, &ve) || ve.DebugID == "" {
		return err
	}
	fmt.Fprintln(os.Stderr, formatError(err))
	fmt.Fprintf(os.Stderr, "opening a shell in the failed step's container %s; exit it to end the build\n", ve.DebugID)
	if serr := runDebug(ctx, store, ve.DebugID, nil); serr != nil {
		var ee *exitError
		if !errors.As(serr, &ee) {
			return errors.Join(err, serr)
		}
	}
	return err
}

func newDebugCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "debug ID [COMMAND [ARG...]]",
		Short: "Run a command (default /bin/sh) in a failed build step kept by kiln build --on-error=keep",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New(`"kiln debug" requires at least 1 argument: ID [COMMAND [ARG...]]`)
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			store, err := g.open()
			if err != nil {
				return err
			}
			defer store.Close()
			return runDebug(c.Context(), store, args[0], args[1:])
		},
	}
	// Flags after ID belong to COMMAND, as with kiln run and exec.
	c.Flags().SetInterspersed(false)
	return c
}

// runDebug runs args (default /bin/sh) in the kept step id, in the
// foreground, with a terminal where stdin and stdout are one.
func runDebug(ctx context.Context, store *cache.Store, id string, args []string) error {
	dir, cfg, err := store.DebugContainer(id)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		args = []string{"/bin/sh"}
	}
	spec, _, err := solver.DebugSpec(dir, cfg, args)
	if err != nil {
		return err
	}
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(signals)
	spec.Stdin, spec.Stdout, spec.Stderr, spec.Signals = os.Stdin, os.Stdout, os.Stderr, signals
	spec.Tty = isTerminal(os.Stdin) && isTerminal(os.Stdout)
	code, err := exitStatus(executor.New(executor.WithTempDir(store.TempDir)).Run(ctx, spec))
	switch {
	case errors.Is(err, executor.ErrExecNotFound):
		fmt.Fprintln(os.Stderr, "error:", err)
		return &exitError{code: exitNotFound}
	case err != nil:
		return &runtimeError{fmt.Errorf("debug %s: %w", id, err)}
	case code != 0:
		return &exitError{code: code}
	}
	return nil
}
