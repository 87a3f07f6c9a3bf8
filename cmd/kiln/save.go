package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/exporter"
)

func newSaveCommand(g *globals) *cobra.Command {
	var out, format string
	c := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Write images to a tar archive (docker-archive, or OCI with --format oci)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if format != "docker" && format != "oci" {
				return fmt.Errorf("--format: %q is not one of docker, oci", format)
			}
			if out == "" && isTerminal(os.Stdout) {
				return errors.New("save: refusing to write an archive to a terminal: use -o FILE or redirect stdout")
			}
			store, err := g.open()
			if err != nil {
				return err
			}
			defer store.Close()
			imgs, err := namedImages(store, args)
			if err != nil {
				return err
			}
			tmp, err := store.TempDir("save-")
			if err != nil {
				return err
			}
			opt := exporter.ArchiveOptions{TempDir: tmp}
			return writeOut(out, "-o", func(w io.Writer) error {
				if format == "oci" {
					return exporter.WriteOCI(c.Context(), store, w, "", imgs, opt)
				}
				return exporter.WriteDockerArchive(c.Context(), store, w, imgs, opt)
			})
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of stdout")
	c.Flags().StringVar(&format, "format", "docker", "archive format: docker or oci")
	return c
}

// namedImages resolves refs in the store. An image named by one of its
// names carries that name into the archive; by ID or digest, none, as
// with docker save. An image given twice is written once.
func namedImages(store *cache.Store, refs []string) ([]exporter.NamedImage, error) {
	var out []exporter.NamedImage
	at := map[string]int{}
	for _, ref := range refs {
		desc, err := store.Resolve(ref)
		if err != nil {
			return nil, err
		}
		var names []string
		if n, err := cache.NormalizeRef(ref); err == nil && desc.Annotations["org.opencontainers.image.ref.name"] == n {
			names = []string{n}
		}
		if i, ok := at[desc.Digest.String()]; ok {
			out[i].Names = append(out[i].Names, names...)
			continue
		}
		at[desc.Digest.String()] = len(out)
		out = append(out, exporter.NamedImage{Manifest: desc.Digest, Names: names})
	}
	return out, nil
}

// writeOut writes through fn to path ("" or "-" is stdout): into a temp
// file beside it, renamed into place when fn succeeds, so a failed export
// leaves no half-written file behind. flag names the option in errors.
func writeOut(path, flag string, fn func(io.Writer) error) error {
	if path == "" || path == "-" {
		return fn(os.Stdout)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("%s %s: %w", flag, path, err)
	}
	err = fn(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}
