package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/container"
)

// networks opens the root's network store.
func (g *globals) networks() (*container.NetworkStore, error) {
	cs, err := g.containers()
	if err != nil {
		return nil, err
	}
	return cs.Networks()
}

func newNetworkCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "network",
		Short: "Manage networks",
		Args:  cobra.NoArgs,
	}
	c.AddCommand(newNetworkCreateCommand(g), newNetworkLsCommand(g), newNetworkRmCommand(g), newNetworkInspectCommand(g), newNetworkPruneCommand(g))
	return c
}

func newNetworkCreateCommand(g *globals) *cobra.Command {
	var o container.NetworkOptions
	var driver string
	c := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a bridge network on which containers reach each other by name",
		Args:  exactArgs(1, "NETWORK"),
		RunE: func(c *cobra.Command, args []string) error {
			if driver != "bridge" {
				return fmt.Errorf("--driver %s: only bridge networks are supported", driver)
			}
			nets, err := g.networks()
			if err != nil {
				return err
			}
			n, err := nets.Create(args[0], o)
			if err != nil {
				return err
			}
			fmt.Println(n.ID)
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVarP(&driver, "driver", "d", "bridge", "driver: bridge")
	fl.StringVar(&o.Subnet, "subnet", "", "IPv4 subnet in CIDR form (default: a free one of 172.17-31.0.0/16, 192.168.0-240.0/20)")
	fl.StringVar(&o.Gateway, "gateway", "", "gateway address of the subnet (default: its first address)")
	fl.BoolVar(&o.Internal, "internal", false, "no route out of the host: containers reach only each other")
	return c
}

func newNetworkLsCommand(g *globals) *cobra.Command {
	var quiet bool
	c := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			nets, err := g.networks()
			if err != nil {
				return err
			}
			all, err := nets.List()
			if err != nil {
				return err
			}
			if quiet {
				for _, n := range all {
					fmt.Println(n.ID[:12])
				}
				return nil
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "NETWORK ID\tNAME\tDRIVER\tSCOPE")
			for _, n := range all {
				fmt.Fprintf(tw, "%s\t%s\t%s\tlocal\n", n.ID[:12], n.Name, n.Driver)
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "only show network IDs")
	return c
}

func newNetworkRmCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove networks no running container is on",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			nets, err := g.networks()
			if err != nil {
				return err
			}
			var errs []error
			for _, ref := range args {
				if err := nets.Remove(ref); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Println(ref)
			}
			return errors.Join(errs...)
		},
	}
}

// networkInspect is kiln network inspect's JSON, in Docker's field names.
type networkInspect struct {
	Name       string
	ID         string `json:"Id"`
	Created    string
	Driver     string
	Internal   bool
	IPAM       struct{ Config []map[string]string }
	Containers map[string]networkInspectEndpoint
}

type networkInspectEndpoint struct {
	Name        string
	MacAddress  string
	IPv4Address string
	Aliases     []string `json:",omitempty"`
}

func newNetworkInspectCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect NETWORK [NETWORK...]",
		Short: "Show networks and the containers on them as JSON",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			nets, err := g.networks()
			if err != nil {
				return err
			}
			out := []networkInspect{}
			var errs []error
			for _, ref := range args {
				n, err := nets.Get(ref)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				ni := networkInspect{Name: n.Name, ID: n.ID, Driver: n.Driver, Internal: n.Internal, Containers: map[string]networkInspectEndpoint{}}
				if !n.Created.IsZero() {
					ni.Created = n.Created.Format("2006-01-02T15:04:05.999999999Z07:00")
				}
				if n.Subnet != "" {
					ni.IPAM.Config = []map[string]string{{"Subnet": n.Subnet, "Gateway": n.Gateway}}
					eps, err := nets.Endpoints(n)
					if err != nil {
						return err
					}
					_, prefix, _ := strings.Cut(n.Subnet, "/")
					for _, e := range eps {
						ni.Containers[e.Container] = networkInspectEndpoint{Name: e.Name, MacAddress: e.MAC, IPv4Address: e.IP + "/" + prefix, Aliases: e.Aliases}
					}
				}
				out = append(out, ni)
			}
			b, err := json.MarshalIndent(out, "", "    ")
			if err != nil {
				return err
			}
			fmt.Println(string(b))
			return errors.Join(errs...)
		},
	}
}

func newNetworkPruneCommand(g *globals) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "prune [-f]",
		Short: "Remove every user network no running container is on",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if !force {
				return errors.New("network prune removes every unused user network: confirm with -f (--force)")
			}
			nets, err := g.networks()
			if err != nil {
				return err
			}
			all, err := nets.List()
			if err != nil {
				return err
			}
			var removed []string
			for _, n := range all {
				if n.Predefined() {
					continue
				}
				if err := nets.Remove(n.ID); err != nil {
					if errors.Is(err, container.ErrNetworkInUse) {
						continue
					}
					return err
				}
				removed = append(removed, n.Name)
			}
			if len(removed) > 0 {
				fmt.Println("Deleted Networks:\n" + strings.Join(removed, "\n"))
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return c
}
