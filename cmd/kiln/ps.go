package main

import (
	"fmt"
	"os"
	"strconv"
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
					humanDuration(now.Sub(ctr.Config.Created))+" ago", statusText(ctr, now), portsText(ctr), ctr.Config.Name)
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

// portsText is the PORTS column: a running container's published ports.
func portsText(c *container.Container) string {
	if !c.IsRunning() {
		return ""
	}
	var out []string
	for _, p := range c.State.Ports {
		out = append(out, p.String())
	}
	return strings.Join(out, ", ")
}

func newPortCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List a running container's published ports",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			_, ctr, err := g.getContainer(args[0])
			if err != nil {
				return err
			}
			if !ctr.IsRunning() {
				return fmt.Errorf("container %s is not running", args[0])
			}
			found := false
			for _, p := range ctr.State.Ports {
				key := fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto)
				if len(args) == 2 && args[1] != key && args[1] != strconv.Itoa(p.ContainerPort) {
					continue
				}
				found = true
				host := p.HostAddr()
				if len(args) == 2 {
					fmt.Println(host)
				} else {
					fmt.Println(key, "->", host)
				}
			}
			if len(args) == 2 && !found {
				return fmt.Errorf("no public port %s published for %s", args[1], args[0])
			}
			return nil
		},
	}
}
