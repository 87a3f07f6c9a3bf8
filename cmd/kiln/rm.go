package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/container"
)

func newRmCommand(g *globals) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Remove containers, with their own layer and log",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var errs []error
			for _, ref := range args {
				if err := removeContainer(g, ref, force); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Println(ref)
			}
			return errors.Join(errs...)
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "kill a running container first")
	return c
}

func removeContainer(g *globals, ref string, force bool) error {
	cs, ctr, err := g.getContainer(ref)
	if err != nil {
		return err
	}
	if !ctr.Settled() {
		if !force {
			return fmt.Errorf("container %s is %s: stop it first, or rm -f", ctr.Config.Name, ctr.State.Status)
		}
		_ = os.WriteFile(stopMarker(ctr), nil, 0o644)
		if ctr.IsRunning() {
			_ = signalContainer(ctr, syscall.SIGKILL)
			if ctr.State.Status == container.Paused {
				_ = container.Thaw(ctr.Config.ID)
			}
			if !waitGone(ctr, 10*time.Second) {
				return fmt.Errorf("container %s: still running 10s after SIGKILL", ctr.Config.Name)
			}
		}
		if _, err := waitSettled(ctr, 10*time.Second); err != nil {
			return err
		}
	}
	return cs.Remove(ctr)
}
