package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kiln-build/kiln/container"
	"github.com/kiln-build/kiln/network"
)

// containerNet is a supervisor's part in its container's bridge network:
// the published ports, served for as long as it supervises, and the
// address of the current run.
type containerNet struct {
	nets   *container.NetworkStore
	pub    *network.Publisher
	ports  []network.PortBinding // as published: host ports picked
	att    *container.Attachment
	warned bool
}

// openNetwork binds c's published ports; a container on the host network
// or none has nothing to set up.
func openNetwork(cs *container.Store, c *container.Container) (*containerNet, error) {
	if !c.Config.Bridged() {
		return &containerNet{}, nil
	}
	n := &containerNet{}
	var err error
	if n.nets, err = cs.Networks(); err != nil {
		return nil, err
	}
	if len(c.Config.Ports) > 0 {
		if n.pub, n.ports, err = network.Publish(c.Config.Ports); err != nil {
			return nil, err
		}
	}
	// The file the executor links as /etc/hosts; attach fills it.
	if err := os.WriteFile(hostsFile(c), nil, 0o644); err != nil {
		n.close()
		return nil, err
	}
	return n, nil
}

// hostsFile is where a bridged container's /etc/hosts is kept.
func hostsFile(c *container.Container) string {
	if !c.Config.Bridged() {
		return ""
	}
	return filepath.Join(c.Dir(), "hosts")
}

// executorNetwork is the executor's network mode for a container: a
// namespace of its own that attach connects, for every bridge network.
func executorNetwork(cfg container.Config) string {
	if cfg.Bridged() {
		return "bridge"
	}
	return cfg.Network
}

// attach connects the container whose init is pid to its network and
// points the published ports at it.
func (n *containerNet) attach(c *container.Container, pid int, start uint64, stderr io.Writer) (*container.Attachment, error) {
	if n.nets == nil {
		return nil, nil
	}
	cfg := c.Config
	att, err := n.nets.Attach(cfg.Network, container.Endpoint{
		Container: cfg.ID, Name: cfg.Name, Aliases: cfg.Aliases,
		Pid: pid, StartTime: start, HostsFile: hostsFile(c),
	}, func(ip string) string { return cfg.Names.Hosts(cfg.Hostname, ip) })
	if err != nil {
		return nil, err
	}
	if stderr == nil {
		stderr = os.Stderr // a detached supervisor's log
	}
	if att.Warning != nil && !n.warned {
		fmt.Fprintln(stderr, "WARNING:", att.Warning)
		n.warned = true
	}
	n.att = att
	if n.pub != nil {
		n.pub.SetTarget(net.ParseIP(att.IP))
	}
	return att, nil
}

// detach takes the exited container off its network.
func (n *containerNet) detach() {
	if n.pub != nil {
		n.pub.SetTarget(nil)
	}
	if n.nets != nil && n.att != nil {
		_ = n.nets.Detach(n.att)
		n.att = nil
	}
}

func (n *containerNet) close() {
	n.detach()
	n.pub.Close()
}

// runNetwork checks --network, --network-alias, -p and -P and returns the
// network's name and the ports to publish.
func runNetwork(cs *container.Store, f *runFlags, exposed map[string]struct{}) (string, []network.PortBinding, error) {
	name := f.network
	switch name {
	case "", "default":
		name = container.DefaultNetwork
	case "host", "none":
	default:
		if strings.HasPrefix(name, "container:") {
			return "", nil, fmt.Errorf("--network %s: joining another container's network is not supported yet", name)
		}
		nets, err := cs.Networks()
		if err != nil {
			return "", nil, err
		}
		n, err := nets.Get(name)
		if err != nil {
			return "", nil, fmt.Errorf("--network: %w", err)
		}
		name = n.Name
	}
	var ports []network.PortBinding
	for _, p := range f.publish {
		b, err := network.ParsePublish(p)
		if err != nil {
			return "", nil, err
		}
		ports = append(ports, b...)
	}
	if f.publishAll {
		for _, e := range slices.Sorted(maps.Keys(exposed)) {
			b, err := network.ParsePublish(e)
			if err != nil {
				return "", nil, fmt.Errorf("-P: the image exposes %w", err)
			}
			ports = append(ports, b...)
		}
	}
	if name == "host" || name == "none" {
		if len(ports) > 0 {
			fmt.Fprintf(os.Stderr, "WARNING: published ports are discarded when using the %s network\n", name)
		}
		if len(f.aliases) > 0 {
			return "", nil, fmt.Errorf("--network-alias: only containers on a user network have aliases, not on %s", name)
		}
		return name, nil, nil
	}
	if name == container.DefaultNetwork && len(f.aliases) > 0 {
		return "", nil, errors.New("--network-alias: only containers on a user network have aliases (the default bridge resolves no names, as Docker's)")
	}
	for _, a := range f.aliases {
		if !container.ValidName(a) {
			return "", nil, fmt.Errorf("--network-alias %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", a)
		}
	}
	return name, ports, nil
}
