package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/cache"

	"github.com/kiln-build/kiln/exporter"
)

func newImagesCommand(g *globals) *cobra.Command {
	var quiet bool
	c := &cobra.Command{
		Use:   "images",
		Short: "List images in the store",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			store, err := g.open()
			if err != nil {
				return err
			}
			defer store.Close()
			images, err := store.Images()
			if err != nil {
				return err
			}
			dangling, err := store.Dangling()
			if err != nil {
				return err
			}
			for _, d := range dangling {
				images = append(images, cache.Image{Manifest: d}) // shown as <none> <none>
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0)
			if !quiet {
				fmt.Fprintln(w, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
			}
			for _, im := range images {
				m, img, err := exporter.ReadImage(c.Context(), store, im.Manifest.Digest)
				if err != nil {
					return fmt.Errorf("image %s: %w", im.Name, err)
				}
				id := m.Config.Digest.Encoded()[:12]
				if quiet {
					fmt.Fprintln(w, id)
					continue
				}
				repo, tag := splitRef(im.Name)
				var size int64
				for _, l := range m.Layers {
					size += l.Size
				}
				created := "N/A"
				if img.Created != nil {
					created = humanAgo(time.Since(*img.Created))
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", repo, tag, id, created, humanSize(size))
			}
			return w.Flush()
		},
	}
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	return c
}

// splitRef splits "name:tag" (the name may hold a registry port) and shows
// untagged images as Docker does.
func splitRef(ref string) (repo, tag string) {
	if strings.HasPrefix(ref, "sha256:") || ref == "" {
		return "<none>", "<none>"
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i], ref[i+1:]
	}
	return ref, "<none>"
}

func humanAgo(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "Less than a minute ago"
	case d < time.Hour:
		return fmt.Sprintf("%d minutes ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours ago", int(d.Hours()))
	default:
		return fmt.Sprintf("%d days ago", int(d.Hours()/24))
	}
}

func humanSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	f, i := float64(n), 0
	for f >= unit && i < 4 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.3g%s", f, []string{"B", "kB", "MB", "GB", "TB"}[i])
}

func newInspectCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect CONTAINER|IMAGE",
		Short: "Print a container's state and config, or an image's OCI config, as JSON",
		Args:  exactArgs(1, "CONTAINER|IMAGE"),
		RunE: func(c *cobra.Command, args []string) error {
			if found, err := inspectContainer(g, args[0]); found {
				return err
			}
			store, desc, err := g.openImage(args[0])
			if err != nil {
				return err
			}
			defer store.Close()
			// The stored config as it is, so Docker's fields beyond
			// image-spec (Healthcheck, OnBuild, Shell) show too.
			raw, err := rawConfig(c.Context(), store, desc.Digest)
			if err != nil {
				return err
			}
			var out bytes.Buffer
			if err := json.Indent(&out, raw, "", "  "); err != nil {
				return fmt.Errorf("image %s: config: %w", args[0], err)
			}
			out.WriteByte('\n')
			_, err = out.WriteTo(os.Stdout)
			return err
		},
	}
}

func newRmiCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rmi IMAGE [IMAGE...]",
		Short: "Remove image names from the store (their data goes at the next prune)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			store, err := g.open()
			if err != nil {
				return err
			}
			defer store.Close()
			for _, ref := range args {
				names, err := store.Remove(ref)
				if err != nil {
					return err
				}
				for _, n := range names {
					fmt.Printf("Untagged: %s\n", n)
				}
			}
			return nil
		},
	}
}

func newTagCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE TARGET",
		Short: "Give an image another name",
		Args:  exactArgs(2, "SOURCE TARGET"),
		RunE: func(c *cobra.Command, args []string) error {
			store, desc, err := g.openImage(args[0])
			if err != nil {
				return err
			}
			defer store.Close()
			return store.Tag(args[1], desc)
		},
	}
}

// openImage opens the store and finds ref in it.
func (g *globals) openImage(ref string) (*cache.Store, ocispec.Descriptor, error) {
	store, err := g.open()
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	desc, err := store.Resolve(ref)
	if err != nil {
		store.Close()
		return nil, ocispec.Descriptor{}, err
	}
	return store, desc, nil
}
