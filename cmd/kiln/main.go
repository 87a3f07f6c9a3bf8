// Command kiln builds Dockerfiles into OCI images and runs them, with no
// daemon: one binary and one directory of state.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/executor"
)

// exitError carries the status kiln exits with, for errors already shown.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

type globals struct {
	root     string
	insecure []string // --insecure-registry
}

// open opens the store at --root (or $KILN_ROOT, or /var/lib/kiln).
func (g *globals) open() (*cache.Store, error) {
	return cache.Open(g.root)
}

func main() {
	// kiln re-executes itself as the init of every container; that process
	// must not get as far as parsing flags.
	executor.MaybeInit()
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	cmd := newRootCommand()
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(os.Stderr, formatError(err))
	var re *runtimeError
	if errors.As(err, &re) {
		return exitRuntime
	}
	return 1
}

func newRootCommand() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "kiln",
		Short:         "Build Dockerfiles into OCI images and run them, without a daemon",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	defRoot := os.Getenv("KILN_ROOT")
	if defRoot == "" {
		defRoot = "/var/lib/kiln"
	}
	root.PersistentFlags().StringVar(&g.root, "root", defRoot, "directory of kiln's state (env KILN_ROOT)")
	root.PersistentFlags().StringArrayVar(&g.insecure, "insecure-registry", nil, "reach this registry (HOST[:PORT]) over plain HTTP or unverified TLS, as loopback registries always are; repeatable")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%s: %w (see '%s --help')", c.CommandPath(), err, c.CommandPath())
	})
	root.AddCommand(
		newBuildCommand(g),
		newRunCommand(g),
		newImagesCommand(g),
		newInspectCommand(g),
		newRmiCommand(g),
		newTagCommand(g),
		newSaveCommand(g),
		newLoadCommand(g),
		newImportCommand(g),
		newHistoryCommand(g),
		newPullCommand(g),
		newPushCommand(g),
		newLoginCommand(g),
		newLogoutCommand(g),
		newCreateCommand(g),
		newStartCommand(g),
		newStopCommand(g),
		newKillCommand(g),
		newRestartCommand(g),
		newRmCommand(g),
		newPsCommand(g),
		newStatsCommand(g),
		newLogsCommand(g),
		newExecCommand(g),
		newDebugCommand(g),
		newWaitCommand(g),
		newPauseCommand(g, true),
		newPauseCommand(g, false),
		newSuperviseCommand(g),
		newPruneCommand(g),
		newSystemCommand(g),
		newVolumeCommand(g),
		newNetworkCommand(g),
		newPortCommand(g),
	)
	return root
}
