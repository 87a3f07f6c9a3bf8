package main

import (
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/container"
)

func newStopCommand(g *globals) *cobra.Command {
	var timeout int
	c := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop running containers: the image's STOPSIGNAL, then SIGKILL after a timeout",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if timeout < 0 {
				return fmt.Errorf("stop -t %d: the timeout must not be negative", timeout)
			}
			return eachContainer(g, args, func(ctr *container.Container) error {
				return stopContainer(ctr, time.Duration(timeout)*time.Second)
			})
		},
	}
	c.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait for the stop signal to work before SIGKILL")
	return c
}

func newKillCommand(g *globals) *cobra.Command {
	var sigName string
	c := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Send a signal (default SIGKILL) to running containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			sig, err := parseSignal(sigName)
			if err != nil {
				return fmt.Errorf("kill -s: %w", err)
			}
			return eachContainer(g, args, func(ctr *container.Container) error {
				if ctr.State.Status == container.Paused {
					return fmt.Errorf("container %s is paused: unpause it first", ctr.Config.Name)
				}
				if !ctr.IsRunning() {
					return fmt.Errorf("container %s is not running", ctr.Config.Name)
				}
				// Signals that end a container end it on purpose: its
				// restart policy must not undo that.
				if sig == syscall.SIGKILL || sig == syscall.SIGTERM || sig == syscall.SIGINT {
					_ = os.WriteFile(stopMarker(ctr), nil, 0o644)
				}
				return signalContainer(ctr, sig)
			})
		},
	}
	c.Flags().StringVarP(&sigName, "signal", "s", "KILL", "signal to send (name or number)")
	return c
}

func newRestartCommand(g *globals) *cobra.Command {
	var timeout int
	c := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop and start containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return eachContainer(g, args, func(ctr *container.Container) error {
				if err := stopContainer(ctr, time.Duration(timeout)*time.Second); err != nil {
					return err
				}
				return startDetached(g, ctr)
			})
		},
	}
	c.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait for the stop signal to work before SIGKILL")
	return c
}
