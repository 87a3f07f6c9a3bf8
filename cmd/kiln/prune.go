package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/cache"
)

func newPruneCommand(g *globals) *cobra.Command {
	var (
		all     bool
		keep    string
		filters []string
	)
	c := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused build cache, layers and blobs",
		Long: `Remove what no image in the store uses: by default the build cache no image
uses (and any orphaned layer or blob); with --all every cache record, cache
mount, stat cache and build history too; with --keep-storage the least
recently used build cache until the store is under SIZE.

It waits until no other kiln command has the store open, and holds it
meanwhile: builds started during a prune wait for it.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, args []string) error {
			opt := cache.PruneOptions{All: all}
			if keep != "" {
				n, err := cache.ParseSize(keep)
				if err != nil {
					return fmt.Errorf("--keep-storage: %w", err)
				}
				opt.KeepStorage = n
			}
			for _, f := range filters {
				k, v, _ := strings.Cut(f, "=")
				if k != "until" {
					return fmt.Errorf("--filter %q: only until=DURATION is supported", f)
				}
				d, err := time.ParseDuration(v)
				if err != nil || d < 0 {
					return fmt.Errorf("--filter %q: want a duration such as 24h or 30m", f)
				}
				opt.Until = d
			}
			store, err := g.open()
			if err != nil {
				return err
			}
			defer store.Close()
			rep, err := store.Prune(opt)
			if err != nil {
				return err
			}
			fmt.Printf("Deleted %d cache records, %d layers, %d blobs, %d cache mounts\nTotal reclaimed space: %s\n",
				rep.Records, rep.Layers, rep.Blobs, rep.Mounts, cache.FormatSize(rep.Freed))
			return nil
		},
	}
	fl := c.Flags()
	fl.BoolVarP(&all, "all", "a", false, "remove all build cache and cache mounts, not only what no image uses")
	fl.StringVar(&keep, "keep-storage", "", "remove least recently used build cache until the store is under SIZE (e.g. 10GB)")
	fl.StringArrayVar(&filters, "filter", nil, "until=DURATION: keep build cache used within DURATION")
	return c
}

func newSystemCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "system",
		Short: "Inspect and verify the store",
	}
	c.AddCommand(storeCommand(g, "df", "Show what uses space in the store", func(c *cobra.Command, store *cache.Store) error {
		u, err := store.DiskUsage()
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(c.OutOrStdout(), 0, 8, 3, ' ', 0)
		fmt.Fprintln(w, "TYPE\tTOTAL\tSIZE\tRECLAIMABLE")
		for _, l := range []struct {
			name string
			u    cache.UsageLine
		}{{"Images", u.Images}, {"Layers", u.Layers}, {"Build Cache", u.BuildCache}, {"Cache Mounts", u.Mounts}} {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", l.name, l.u.Count, cache.FormatSize(l.u.Size), cache.FormatSize(l.u.Reclaimable))
		}
		return w.Flush()
	}))
	c.AddCommand(storeCommand(g, "check", "Verify every blob digest, layer and cache record in the store", func(c *cobra.Command, store *cache.Store) error {
		problems, err := store.Check()
		if err != nil {
			return err
		}
		for _, p := range problems {
			fmt.Fprintln(c.OutOrStdout(), p)
		}
		if len(problems) > 0 {
			return fmt.Errorf("store %s: %d problems", store.Root(), len(problems))
		}
		fmt.Fprintln(c.OutOrStdout(), "store is consistent")
		return nil
	}))
	return c
}

// storeCommand is a subcommand without arguments that works on the open
// store.
func storeCommand(g *globals, use, short string, run func(*cobra.Command, *cache.Store) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, args []string) error {
			store, err := g.open()
			if err != nil {
				return err
			}
			defer store.Close()
			return run(c, store)
		},
	}
}
