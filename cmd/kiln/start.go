package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func newStartCommand(g *globals) *cobra.Command {
	var attachFlag bool
	c := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start stopped containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if attachFlag && len(args) > 1 {
				return fmt.Errorf("start -a: attach to one container at a time, got %d", len(args))
			}
			for _, ref := range args {
				cs, ctr, err := g.getContainer(ref)
				if err != nil {
					return err
				}
				if ctr.IsRunning() || !ctr.Settled() {
					if attachFlag {
						return fmt.Errorf("start -a: container %s is already running", ctr.Config.Name)
					}
					fmt.Println(ref)
					continue
				}
				if attachFlag {
					return attach(c.Context(), cs, ctr)
				}
				if err := startDetached(g, ctr); err != nil {
					return err
				}
				fmt.Fprintln(os.Stdout, ref)
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&attachFlag, "attach", "a", false, "attach the container's output and exit with its status")
	return c
}
