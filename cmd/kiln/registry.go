package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/exporter/registry"
)

// registryClient returns a client reporting blob progress to w (nil for
// none), with the --insecure-registry hosts.
func (g *globals) registryClient(w io.Writer) (*registry.Client, error) {
	opt := registry.Options{Insecure: g.insecure}
	if w != nil {
		opt.Progress = func(e registry.Event) {
			if e.Desc.MediaType == "" || !strings.Contains(e.Desc.MediaType, "layer") && !strings.Contains(e.Desc.MediaType, "rootfs") {
				return
			}
			short := e.Desc.Digest.Encoded()[:12]
			switch e.Kind {
			case "copy":
				fmt.Fprintf(w, "%s: copying %s\n", short, humanSize(e.Desc.Size))
			case "exists":
				fmt.Fprintf(w, "%s: already exists\n", short)
			case "mounted":
				fmt.Fprintf(w, "%s: mounted\n", short)
			case "progress":
				fmt.Fprintf(w, "%s: %s / %s\n", short, humanSize(e.Done), humanSize(e.Desc.Size))
			}
		}
	}
	return registry.New(opt)
}

// pullImage pulls ref into store and tags it ref.
func (g *globals) pullImage(ctx context.Context, store *cache.Store, ref string, progress io.Writer) (ocispec.Descriptor, error) {
	name, err := cache.NormalizeRef(ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	rc, err := g.registryClient(progress)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc, err := rc.Pull(ctx, store, ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := store.Tag(name, desc); err != nil {
		return ocispec.Descriptor{}, err
	}
	return desc, nil
}

func newPullCommand(g *globals) *cobra.Command {
	var quiet bool
	c := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Pull an image from a registry into the store",
		Args:  exactArgs(1, "NAME[:TAG|@DIGEST]"),
		RunE: func(c *cobra.Command, args []string) error {
			store, err := g.open()
			if err != nil {
				return err
			}
			defer store.Close()
			var progress io.Writer = os.Stderr
			if quiet {
				progress = nil
			}
			desc, err := g.pullImage(c.Context(), store, args[0], progress)
			if err != nil {
				return err
			}
			name, _ := cache.NormalizeRef(args[0])
			if !quiet {
				fmt.Fprintf(os.Stderr, "Digest: %s\n", desc.Digest)
			}
			fmt.Println(name)
			return nil
		},
	}
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the image name")
	return c
}

func newPushCommand(g *globals) *cobra.Command {
	var quiet bool
	c := &cobra.Command{
		Use:   "push [OPTIONS] IMAGE [REGISTRY/]NAME[:TAG]",
		Short: "Push an image to a registry (to its own name when no target is given)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			store, desc, err := g.openImage(args[0])
			if err != nil {
				return err
			}
			defer store.Close()
			target := args[0]
			if len(args) == 2 {
				target = args[1]
			}
			var progress io.Writer = os.Stderr
			if quiet {
				progress = nil
			}
			rc, err := g.registryClient(progress)
			if err != nil {
				return err
			}
			if err := rc.Push(c.Context(), store, desc, target); err != nil {
				return err
			}
			if !quiet {
				fmt.Fprintf(os.Stderr, "digest: %s size: %d\n", desc.Digest, desc.Size)
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing")
	return c
}

func newLoginCommand(g *globals) *cobra.Command {
	var user, password string
	var passwordStdin bool
	c := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Log in to a registry (credentials go to Docker's config.json)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			server := "docker.io"
			if len(args) == 1 {
				server = args[0]
			}
			if passwordStdin {
				if password != "" {
					return errors.New("login: --password and --password-stdin are exclusive")
				}
				b, err := io.ReadAll(bufio.NewReader(os.Stdin))
				if err != nil {
					return fmt.Errorf("--password-stdin: %w", err)
				}
				password = strings.TrimRight(string(b), "\r\n")
			}
			if user == "" || password == "" {
				return errors.New("login: --username and --password (or --password-stdin) are required")
			}
			rc, err := g.registryClient(nil)
			if err != nil {
				return err
			}
			if err := rc.Login(c.Context(), server, user, password); err != nil {
				return err
			}
			fmt.Println("Login Succeeded")
			return nil
		},
	}
	c.Flags().StringVarP(&user, "username", "u", "", "user name")
	c.Flags().StringVarP(&password, "password", "p", "", "password (prefer --password-stdin)")
	c.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin")
	return c
}

func newLogoutCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Remove a registry's credentials from Docker's config.json",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			server := "docker.io"
			if len(args) == 1 {
				server = args[0]
			}
			rc, err := g.registryClient(nil)
			if err != nil {
				return err
			}
			if err := rc.Logout(c.Context(), server); err != nil {
				return err
			}
			fmt.Printf("Removing login credentials for %s\n", server)
			return nil
		},
	}
}
