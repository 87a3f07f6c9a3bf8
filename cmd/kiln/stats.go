package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
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
		Long: `Show the resource usage of running containers, as docker stats does.

NET I/O is what the container received / sent on its interfaces but lo; a
container on the host's network (--network host) shows -- as its traffic
cannot be told from the host's. BLOCK I/O is what its processes read from /
wrote to block devices, as its cgroup counts it: on cgroup v1, only on
devices with I/O throttling set up (recent kernels set it up at the first
throttle rule written for the device), else 0B.`,
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
		fmt.Fprintln(w, "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS")
		for _, r := range rows {
			// A restart gives the container a new process, whose pid
			// NET I/O is read through.
			_ = r.c.Reload()
			st, err := container.ReadStats(r.c.Config.ID)
			now := time.Now()
			if err != nil || r.err != nil {
				// Not running (any more): Docker shows dashes.
				fmt.Fprintf(w, "%s\t%s\t--\t-- / --\t--\t--\t--\t--\n", r.c.ShortID(), r.c.Config.Name)
				r.prev, r.at, r.err = st, now, err
				continue
			}
			cpu := 100 * float64(st.CPU-r.prev.CPU) / float64(now.Sub(r.at))
			memPct := 0.0
			if st.MemoryLimit > 0 {
				memPct = 100 * float64(st.Memory) / float64(st.MemoryLimit)
			}
			fmt.Fprintf(w, "%s\t%s\t%.2f%%\t%s / %s\t%.2f%%\t%s\t%s / %s\t%d\n", r.c.ShortID(), r.c.Config.Name, max(cpu, 0),
				binarySize(st.Memory), binarySize(st.MemoryLimit), memPct, netIO(r.c),
				decimalSize(st.BlockRead), decimalSize(st.BlockWrite), st.Pids)
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

// netIO is the NET I/O column: received / sent. A container on the host's
// network shows "--" where Docker shows 0B / 0B: the host's counters are
// not the container's, and zero would claim it sent nothing.
func netIO(c *container.Container) string {
	if !c.OwnNetwork() {
		return "--"
	}
	n, err := c.ReadNetStats()
	if err != nil {
		return "--"
	}
	return decimalSize(n.RxBytes) + " / " + decimalSize(n.TxBytes)
}

// decimalSize formats bytes as Docker's stats does NET I/O and BLOCK I/O:
// decimal units, 3 significant digits (1.23kB, 21MB, 648B). Where a value
// rounds up to the next unit it is shown in that unit (1MB), not as
// go-units' 1e+03kB.
func decimalSize(n uint64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB", "EB"}
	v, i := float64(n), 0
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	s := strconv.FormatFloat(v, 'g', 3, 64)
	if r, _ := strconv.ParseFloat(s, 64); r >= 1000 && i < len(units)-1 {
		s, i = "1", i+1
	}
	return s + units[i]
}
