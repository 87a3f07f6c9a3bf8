package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/container"
	"github.com/kiln-build/kiln/executor"
)

// volumes opens the root's volume store.
func (g *globals) volumes() (*container.VolumeStore, error) {
	root, err := filepath.Abs(g.root)
	if err != nil {
		return nil, err
	}
	return container.OpenVolumes(filepath.Join(root, "volumes"))
}

func newVolumeCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "volume",
		Short: "Manage named volumes",
		Args:  cobra.NoArgs,
	}
	c.AddCommand(
		&cobra.Command{
			Use:   "create [NAME]",
			Short: "Create a volume (a random name if none is given)",
			Args:  cobra.MaximumNArgs(1),
			RunE: func(c *cobra.Command, args []string) error {
				vs, err := g.volumes()
				if err != nil {
					return err
				}
				name := ""
				if len(args) == 1 {
					name = args[0]
				}
				v, _, err := vs.Create(name, false)
				if err != nil {
					return err
				}
				fmt.Println(v.Name)
				return nil
			},
		},
		newVolumeLsCommand(g),
		newVolumeRmCommand(g),
		&cobra.Command{
			Use:   "inspect VOLUME [VOLUME...]",
			Short: "Show volumes as JSON",
			Args:  cobra.MinimumNArgs(1),
			RunE: func(c *cobra.Command, args []string) error {
				vs, err := g.volumes()
				if err != nil {
					return err
				}
				out := []*container.Volume{}
				var errs []error
				for _, name := range args {
					v, err := vs.Get(name)
					if err != nil {
						errs = append(errs, err)
						continue
					}
					out = append(out, v)
				}
				b, err := json.MarshalIndent(out, "", "    ")
				if err != nil {
					return err
				}
				fmt.Println(string(b))
				return errors.Join(errs...)
			},
		},
	)
	return c
}

func newVolumeLsCommand(g *globals) *cobra.Command {
	var quiet bool
	c := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			vs, err := g.volumes()
			if err != nil {
				return err
			}
			all, err := vs.List()
			if err != nil {
				return err
			}
			if quiet {
				for _, v := range all {
					fmt.Println(v.Name)
				}
				return nil
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "DRIVER\tVOLUME NAME")
			for _, v := range all {
				fmt.Fprintf(tw, "%s\t%s\n", v.Driver, v.Name)
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "only show volume names")
	return c
}

func newVolumeRmCommand(g *globals) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove volumes that no container uses",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			vs, err := g.volumes()
			if err != nil {
				return err
			}
			cs, err := g.containers()
			if err != nil {
				return err
			}
			all, err := cs.List()
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				// As Docker's: -f ignores a volume already gone, never one in
				// use (a stopped container may start again).
				if users := container.UsedBy(all, name); len(users) > 0 {
					errs = append(errs, fmt.Errorf("volume %s: %w by container %s: remove the container first", name, container.ErrVolumeInUse, strings.Join(users, ", ")))
					continue
				}
				if err := vs.Remove(name); err != nil {
					if !(force && errors.Is(err, container.ErrVolumeNotFound)) {
						errs = append(errs, err)
					}
					continue
				}
				fmt.Println(name)
			}
			return errors.Join(errs...)
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "no error for volumes that do not exist")
	return c
}

// containerMounts resolves a new container's -v, --mount and --tmpfs flags
// and the image's VOLUME entries into mounts: host directories of -v are
// created if missing, as Docker does, volumes are created and, when empty,
// filled from the image (lower). On error, volumes made for the container
// are removed again.
func containerMounts(ctx context.Context, g *globals, f *runFlags, lower []string, imageVolumes map[string]struct{}) (ms []container.Mount, err error) {
	for _, s := range f.volumes {
		m, err := parseVolumeFlag(s)
		if err != nil {
			return nil, err
		}
		if _, err := os.Lstat(m.Source); m.Type == container.MountBind && errors.Is(err, os.ErrNotExist) {
			// -v makes a missing host directory; --mount refuses (below).
			if err := os.MkdirAll(m.Source, 0o755); err != nil {
				return nil, fmt.Errorf("-v %s: create host directory: %w", s, err)
			}
		}
		ms = append(ms, m)
	}
	for _, s := range f.mounts {
		m, err := parseMountFlag(s)
		if err != nil {
			return nil, err
		}
		if m.Type == container.MountBind {
			if _, err := os.Stat(m.Source); err != nil {
				return nil, fmt.Errorf("--mount %s: bind source path does not exist: %s", s, m.Source)
			}
		}
		ms = append(ms, m)
	}
	for _, s := range f.tmpfs {
		m, err := parseTmpfsFlag(s)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if seen[m.Target] {
			return nil, fmt.Errorf("duplicate mount point: %s", m.Target)
		}
		seen[m.Target] = true
	}
	// The image's VOLUMEs not covered by a flag get anonymous volumes.
	var anon []string
	for p := range imageVolumes {
		if p = path.Clean("/" + p); p != "/" && !seen[p] {
			anon = append(anon, p)
			seen[p] = true
		}
	}
	sort.Strings(anon)
	for _, p := range anon {
		ms = append(ms, container.Mount{Type: container.MountVolume, Target: p, Anonymous: true})
	}

	vs, err := g.volumes()
	if err != nil {
		return nil, err
	}
	var made []string
	defer func() {
		if err != nil {
			for _, name := range made {
				_ = vs.Remove(name)
			}
		}
	}()
	for i := range ms {
		m := &ms[i]
		if m.Type != container.MountVolume {
			continue
		}
		v, created, err := vs.Create(m.Source, m.Anonymous)
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", m.Source, err)
		}
		m.Source = v.Name
		if created {
			made = append(made, v.Name)
		}
		if err := populateVolume(ctx, v, lower, m.Target); err != nil {
			return nil, fmt.Errorf("volume %s: copy the image's %s: %w", v.Name, m.Target, err)
		}
	}
	return ms, nil
}

// populateVolume copies the image's content at target into v when v is
// empty, with owners and modes, as Docker fills a volume on first use. A
// target the image lacks leaves it empty.
func populateVolume(ctx context.Context, v *container.Volume, lower []string, target string) error {
	// Two containers first using one volume at once: one fills it.
	unlock, err := v.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	empty, err := v.IsEmpty()
	if err != nil || !empty {
		return err
	}
	// The topmost layer holding target gives the volume root its owner and
	// mode; a layer hiding it (whiteout or not a directory) ends the search.
	var top os.FileInfo
	for i := len(lower) - 1; i >= 0 && top == nil; i-- {
		p, err := securejoin.SecureJoin(lower[i], target)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if !fi.IsDir() {
			return nil
		}
		top = fi
	}
	if top == nil {
		return nil
	}
	work, err := os.MkdirTemp(filepath.Dir(v.Mountpoint), ".work-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	err = executor.New().Copy(ctx, executor.CopySpec{
		Dest:     executor.Rootfs{Upper: v.Mountpoint, Work: work},
		SrcLower: lower,
		Src:      []string{target},
		DestPath: "/",
	})
	if errors.Is(err, executor.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if st, ok := top.Sys().(*syscall.Stat_t); ok {
		if err := os.Lchown(v.Mountpoint, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
	}
	// After the chown, which clears setuid and setgid bits.
	return os.Chmod(v.Mountpoint, top.Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky))
}

// executorMounts turns a container's mounts into the executor's.
func executorMounts(c *container.Container) []executor.Mount {
	var vs *container.VolumeStore
	var out []executor.Mount
	for _, m := range c.Config.Mounts {
		switch m.Type {
		case container.MountTmpfs:
			out = append(out, executor.Mount{Type: executor.MountTmpfs, Target: m.Target, Size: m.Size})
			continue
		case container.MountVolume:
			if vs == nil {
				vs, _ = c.Volumes()
			}
			// A volume removed with rm -f since is made anew, empty.
			if vs != nil {
				if v, _, err := vs.Create(m.Source, m.Anonymous); err == nil {
					m.Source = v.Mountpoint
				}
			}
		}
		// MountCache binds the directory as is: writes go through to the
		// host, which is what -v means. A read-only file goes through
		// MountBind, which knows files.
		t := executor.MountCache
		if m.ReadOnly {
			t = executor.MountBind
		}
		out = append(out, executor.Mount{Type: t, Target: m.Target, Source: m.Source, ReadOnly: m.ReadOnly})
	}
	return out
}

// removeAnonymousVolumes removes the anonymous volumes of a removed
// container, as docker rm -v and --rm do.
func removeAnonymousVolumes(cs *container.Store, c *container.Container) error {
	var vs *container.VolumeStore
	var errs []error
	for _, m := range c.Config.Mounts {
		if m.Type != container.MountVolume || !m.Anonymous {
			continue
		}
		if vs == nil {
			var err error
			if vs, err = cs.Volumes(); err != nil {
				return err
			}
		}
		if err := vs.Remove(m.Source); err != nil && !errors.Is(err, container.ErrVolumeNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// mountJSON is docker inspect's shape for one of a container's mounts.
type mountJSON struct {
	Type        string
	Name        string `json:",omitempty"`
	Source      string
	Destination string
	Driver      string `json:",omitempty"`
	RW          bool
}

func inspectMounts(c *container.Container) []mountJSON {
	out := []mountJSON{}
	vs, _ := c.Volumes()
	for _, m := range c.Config.Mounts {
		j := mountJSON{Type: m.Type, Source: m.Source, Destination: m.Target, RW: !m.ReadOnly}
		if m.Type == container.MountVolume {
			j.Name, j.Driver, j.Source = m.Source, "local", ""
			if vs != nil {
				if v, err := vs.Get(m.Source); err == nil {
					j.Source = v.Mountpoint
				}
			}
		}
		out = append(out, j)
	}
	return out
}
