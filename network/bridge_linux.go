package network

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/kiln-build/kiln/internal/netlink"
)

// Ensure makes the bridge exist, hold its gateway address and be up. When it
// had to be created, forwarding and NAT rules are installed too; a missing
// or failing iptables is returned as warning (containers then reach each
// other and the host, not the outside), other failures as err.
func (b Bridge) Ensure() (warning, err error) {
	h, err := netlink.Open()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	created := false
	if _, err := h.LinkByName(b.Name); errors.Is(err, os.ErrNotExist) {
		if err := h.AddBridge(b.Name); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create bridge %s: %w", b.Name, err)
		}
		created = true
	} else if err != nil {
		return nil, err
	}
	if err := h.AddAddr(b.Name, b.gatewayNet()); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("bridge %s: add %s: %w", b.Name, b.gatewayNet(), err)
	}
	if err := h.SetUp(b.Name); err != nil {
		return nil, fmt.Errorf("bridge %s: %w", b.Name, err)
	}
	if !created {
		return nil, nil
	}
	if !b.Internal {
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644); err != nil {
			return nil, fmt.Errorf("enable IPv4 forwarding: %w", err)
		}
	}
	warning, err = b.addRules()
	if err != nil {
		// Containers still reach each other and the host: a warning, not
		// a failure of every run.
		return fmt.Errorf("bridge %s has no outbound NAT (once iptables works, ip link del %s and the next container sets it up): %w", b.Name, b.Name, err), nil
	}
	return warning, nil
}

// Remove deletes the bridge and its rules; a bridge already gone is fine.
func (b Bridge) Remove() error {
	h, err := netlink.Open()
	if err != nil {
		return err
	}
	defer h.Close()
	if err := h.DeleteLink(b.Name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove bridge %s: %w", b.Name, err)
	}
	return b.removeRules()
}

// Connect gives the container whose init is pid an interface eth0 on the
// bridge with address ip: a veth pair, hostVeth on the bridge and its peer
// created in the container's network namespace. The container's loopback
// is brought up and its default route points at the gateway.
func (b Bridge) Connect(pid int, hostVeth string, ip net.IP) error {
	h, err := netlink.Open()
	if err != nil {
		return err
	}
	defer h.Close()
	// A veth left by a container whose namespace outlived it.
	_ = h.DeleteLink(hostVeth)
	if err := h.AddVeth(hostVeth, "eth0", pid); err != nil {
		return fmt.Errorf("connect to %s: %w", b.Name, err)
	}
	fail := func(err error) error {
		_ = h.DeleteLink(hostVeth)
		return fmt.Errorf("connect to %s: %w", b.Name, err)
	}
	if err := h.SetMaster(hostVeth, b.Name); err != nil {
		return fail(err)
	}
	if err := h.SetUp(hostVeth); err != nil {
		return fail(err)
	}
	in, err := netlink.OpenIn("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		return fail(err)
	}
	defer in.Close()
	if err := in.SetHardwareAddr("eth0", MAC(ip)); err != nil {
		return fail(err)
	}
	if err := in.AddAddr("eth0", &net.IPNet{IP: ip.To4(), Mask: b.Subnet.Mask}); err != nil {
		return fail(err)
	}
	for _, l := range []string{"lo", "eth0"} {
		if err := in.SetUp(l); err != nil {
			return fail(err)
		}
	}
	if err := in.AddDefaultRoute(b.Gateway, "eth0"); err != nil {
		return fail(err)
	}
	return nil
}

// Disconnect removes a container's host-side veth; its peer goes with it.
// One already gone (the namespace died with the container) is fine.
func Disconnect(hostVeth string) error {
	h, err := netlink.Open()
	if err != nil {
		return err
	}
	defer h.Close()
	if err := h.DeleteLink(hostVeth); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("disconnect %s: %w", hostVeth, err)
	}
	return nil
}

// HostRoutes are the IPv4 destinations the host already routes, which a new
// network's subnet must not overlap.
func HostRoutes() ([]*net.IPNet, error) {
	h, err := netlink.Open()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	routes, err := h.Routes()
	if err != nil {
		return nil, err
	}
	var out []*net.IPNet
	for _, r := range routes {
		if r.Dst != nil && r.Dst.IP.To4() != nil {
			if ones, _ := r.Dst.Mask.Size(); ones > 0 {
				out = append(out, r.Dst)
			}
		}
	}
	return out, nil
}

// LinkExists says whether the host has an interface called name.
func LinkExists(name string) bool {
	h, err := netlink.Open()
	if err != nil {
		return false
	}
	defer h.Close()
	_, err = h.LinkByName(name)
	return err == nil
}
