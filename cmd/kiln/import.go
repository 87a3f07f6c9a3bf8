package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/exporter"
)

func newImportCommand(g *globals) *cobra.Command {
	var message string
	c := &cobra.Command{
		Use:   "import [OPTIONS] FILE|- [REPOSITORY[:TAG]]",
		Short: "Make a one-layer image from a root filesystem tarball",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			var name string
			if len(args) == 2 {
				n, err := cache.NormalizeRef(args[1])
				if err != nil {
					return fmt.Errorf("import: REPOSITORY[:TAG]: %w", err)
				}
				name = n
			}
			var r io.Reader = os.Stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				defer f.Close()
				r = f
			} else if isTerminal(os.Stdin) {
				return fmt.Errorf("import: stdin is a terminal: give FILE or redirect stdin")
			}
			store, err := g.open()
			if err != nil {
				return err
			}
			defer store.Close()
			comment := message
			if comment == "" {
				comment = "Imported from " + args[0]
			}
			desc, err := exporter.Import(c.Context(), store, r, comment, time.Now())
			if err != nil {
				return err
			}
			if name != "" {
				err = store.Tag(name, desc)
			} else {
				err = store.Keep(desc)
			}
			if err != nil {
				return err
			}
			id, err := imageID(c.Context(), store, desc.Digest)
			if err != nil {
				return err
			}
			fmt.Println(id)
			return nil
		},
	}
	c.Flags().StringVarP(&message, "message", "m", "", "history comment of the imported layer")
	return c
}
