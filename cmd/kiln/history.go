package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/exporter"
)

func newHistoryCommand(g *globals) *cobra.Command {
	var noTrunc, quiet bool
	c := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image, newest first",
		Args:  exactArgs(1, "IMAGE"),
		RunE: func(c *cobra.Command, args []string) error {
			store, desc, err := g.openImage(args[0])
			if err != nil {
				return err
			}
			defer store.Close()
			m, img, err := exporter.ReadImage(c.Context(), store, desc.Digest)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0)
			if !quiet {
				fmt.Fprintln(w, "IMAGE\tCREATED\tCREATED BY\tSIZE\tCOMMENT")
			}
			// Sizes pair with the non-empty entries, bottom up; the top
			// entry is the image itself, the rest are <missing> as in
			// Docker for images that were not built here step by step.
			sizes := make([]int64, len(img.History))
			next := 0
			for i, h := range img.History {
				if !h.EmptyLayer && next < len(m.Layers) {
					sizes[i] = m.Layers[next].Size
					next++
				}
			}
			for i := len(img.History) - 1; i >= 0; i-- {
				h := img.History[i]
				id := "<missing>"
				if i == len(img.History)-1 {
					id = m.Config.Digest.Encoded()[:12]
					if noTrunc {
						id = m.Config.Digest.String()
					}
				}
				if quiet {
					fmt.Fprintln(w, id)
					continue
				}
				created := "N/A"
				if h.Created != nil {
					created = humanAgo(time.Since(*h.Created))
				}
				by := strings.ReplaceAll(h.CreatedBy, "\t", " ")
				if !noTrunc && len(by) > 45 {
					by = by[:44] + "…"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", id, created, by, humanSize(sizes[i]), h.Comment)
			}
			return w.Flush()
		},
	}
	c.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not truncate output")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	return c
}
