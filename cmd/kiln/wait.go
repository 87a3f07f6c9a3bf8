package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newWaitCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Wait for containers to stop, then print their exit codes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			for _, ref := range args {
				_, ctr, err := g.getContainer(ref)
				if err != nil {
					return err
				}
				if _, err := waitSettled(ctr, -1); err != nil {
					return err
				}
				fmt.Println(ctr.State.ExitCode)
			}
			return nil
		},
	}
}
