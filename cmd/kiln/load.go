package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/exporter"
)

func newLoadCommand(g *globals) *cobra.Command {
	var input string
	var quiet bool
	c := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load images from a docker-archive, an OCI archive or an OCI layout directory",
		Args:  exactArgs(0, "no arguments (use -i FILE)"),
		RunE: func(c *cobra.Command, _ []string) error {
			store, err := g.open()
			if err != nil {
				return err
			}
			defer store.Close()
			loaded, err := loadInput(c.Context(), store, input)
			if err != nil {
				return err
			}
			return tagLoaded(c.Context(), store, loaded, quiet)
		},
	}
	c.Flags().StringVarP(&input, "input", "i", "", "read from this tar archive or OCI layout directory instead of stdin")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing")
	return c
}

func loadInput(ctx context.Context, store *cache.Store, input string) ([]exporter.Loaded, error) {
	if input != "" {
		fi, err := os.Stat(input)
		if err != nil {
			return nil, fmt.Errorf("-i: %w", err)
		}
		if fi.IsDir() {
			return exporter.LoadDir(ctx, store, input)
		}
	}
	var r io.Reader = os.Stdin
	if input != "" && input != "-" {
		f, err := os.Open(input)
		if err != nil {
			return nil, fmt.Errorf("-i: %w", err)
		}
		defer f.Close()
		r = f
	} else if isTerminal(os.Stdin) {
		return nil, fmt.Errorf("load: stdin is a terminal: use -i FILE or redirect stdin")
	}
	tmp, err := store.TempDir("load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	return exporter.LoadArchive(ctx, store, r, tmp)
}

// tagLoaded names the loaded images as the archive did, or keeps them
// unnamed, and says so as docker load does.
func tagLoaded(ctx context.Context, store *cache.Store, loaded []exporter.Loaded, quiet bool) error {
	for _, l := range loaded {
		if len(l.Names) == 0 {
			if err := store.Keep(l.Manifest); err != nil {
				return err
			}
			id, err := imageID(ctx, store, l.Manifest.Digest)
			if err != nil {
				return err
			}
			if !quiet {
				fmt.Printf("Loaded image ID: %s\n", id)
			}
			continue
		}
		for _, n := range l.Names {
			name, err := cache.NormalizeRef(n)
			if err != nil {
				return fmt.Errorf("load: image name in archive: %w", err)
			}
			if err := store.Tag(name, l.Manifest); err != nil {
				return err
			}
			if !quiet {
				fmt.Printf("Loaded image: %s\n", name)
			}
		}
	}
	return nil
}
