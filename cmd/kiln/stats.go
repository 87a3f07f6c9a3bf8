package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/container"
)

func newStatsCommand(g *globals) *cobra.Command {
	var noStream bool
	c := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Show the resource usage of running containers",
		RunE: func(c *cobra.Command, args []string) error {
			return runStats(c.Context(), g, args, noStream, os.Stdout)
		},
	}
	c.Flags().BoolVar(&noStream, "no-stream", false, "print one sample and exit")
	return c
}

// statsInterval is how long CPU use is measured over, as Docker's.
const statsInterval = time.Second

type statsRow struct {
	c    *container.Container
	prev container.Stats
	at   time.Time
	err  error
}

func runStats(ctx context.Context, g *globals, refs []string, noStream bool, out io.Writer) error {
	cs, err := g.containers()
	if err != nil {
		return err
	}
	var list []*container.Container
	if len(refs) == 0 {
		all, err := cs.List()
		if err != nil {
			return err
		}
		for _, c := range all {
			if !c.Settled() {
				list = append(list, c)
			}
		}
	}
	for _, ref := range refs {
		c, err := cs.Get(ref)
		if err != nil {
			return err
		}
		list = append(list, c)
	}
	rows := make([]*statsRow, len(list))
	for i, c := range list {
		st, err := container.ReadStats(c.Config.ID)
		rows[i] = &statsRow{c: c, prev: st, at: time.Now(), err: err}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(statsInterval):
		}
		var b strings.Builder
		if !noStream {
			b.WriteString("\033[2J\033[H") // clear the screen, as docker stats does
		}
		w := tabwriter.NewWriter(&b, 0, 4, 3, ' ', 0)
		fmt.Fprintln(w, "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tPIDS")
		for _, r := range rows {
			st, err := container.ReadStats(r.c.Config.ID)
			now := time.Now()
			if err != nil || r.err != nil {
				// Not running (any more): Docker shows dashes.
				fmt.Fprintf(w, "%s\t%s\t--\t-- / --\t--\t--\n", r.c.ShortID(), r.c.Config.Name)
				r.prev, r.at, r.err = st, now, err
				continue
			}
			cpu := 100 * float64(st.CPU-r.prev.CPU) / float64(now.Sub(r.at))
			memPct := 0.0
			if st.MemoryLimit > 0 {
				memPct = 100 * float64(st.Memory) / float64(st.MemoryLimit)
			}
			fmt.Fprintf(w, "%s\t%s\t%.2f%%\t%s / %s\t%.2f%%\t%d\n", r.c.ShortID(), r.c.Config.Name, max(cpu, 0),
				binarySize(st.Memory), binarySize(st.MemoryLimit), memPct, st.Pids)
			r.prev, r.at = st, now
		}
		w.Flush()
		if _, err := io.WriteString(out, b.String()); err != nil {
			return err
		}
		if noStream {
			return nil
		}
	}
}

// binarySize formats bytes as Docker's stats does: 1.5MiB.
func binarySize(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%dB", n)
	}
	return fmt.Sprintf("%.2f%s", v, units[i])
}
