package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/container"
)

func newPsCommand(g *globals) *cobra.Command {
	var all, quiet, noTrunc bool
	c := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers (running ones unless -a)",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			cs, err := g.containers()
			if err != nil {
				return err
			}
			list, err := cs.List()
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0)
			if !quiet {
				fmt.Fprintln(w, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
			}
			now := time.Now()
			for _, ctr := range list {
				if !all && ctr.Settled() {
					continue
				}
				id := ctr.Config.ID
				if !noTrunc {
					id = ctr.ShortID()
				}
				if quiet {
					fmt.Fprintln(w, id)
					continue
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", id, ctr.Config.Image, psCommand(ctr, noTrunc),
					humanDuration(now.Sub(ctr.Config.Created))+" ago", statusText(ctr, now), "", ctr.Config.Name)
			}
			return w.Flush()
		},
	}
	c.Flags().BoolVarP(&all, "all", "a", false, "show stopped containers too")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "only show container IDs")
	c.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not truncate IDs and commands")
	return c
}

// psCommand is the COMMAND column: quoted, cut at 20 characters as
// Docker's is.
func psCommand(c *container.Container, noTrunc bool) string {
	s := strings.Join(c.Config.Args, " ")
	if r := []rune(s); !noTrunc && len(r) > 20 {
		s = string(r[:19]) + "…"
	}
	return `"` + s + `"`
}
