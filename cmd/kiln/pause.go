package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/container"
)

func newPauseCommand(g *globals, pause bool) *cobra.Command {
	use, short := "pause", "Freeze every process of containers"
	if !pause {
		use, short = "unpause", "Resume paused containers"
	}
	return &cobra.Command{
		Use:   use + " CONTAINER [CONTAINER...]",
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return eachContainer(g, args, func(ctr *container.Container) error {
				switch {
				case !ctr.IsRunning():
					return fmt.Errorf("container %s is not running", ctr.Config.Name)
				case pause && ctr.State.Status == container.Paused:
					return fmt.Errorf("container %s is already paused", ctr.Config.Name)
				case !pause && ctr.State.Status != container.Paused:
					return fmt.Errorf("container %s is not paused", ctr.Config.Name)
				}
				op := container.Thaw
				if pause {
					op = container.Freeze
				}
				if err := op(ctr.Config.ID); err != nil {
					return fmt.Errorf("%s %s: %w", use, ctr.Config.Name, err)
				}
				return nil
			})
		},
	}
}
