package network

import "net"

// Bridge is one network's bridge interface on the host.
type Bridge struct {
	Name    string // the interface, at most 15 bytes
	Subnet  *net.IPNet
	Gateway net.IP
	// Internal networks get no route out: no NAT, and forwarding to other
	// interfaces is dropped.
	Internal bool
}

func (b Bridge) gatewayNet() *net.IPNet {
	return &net.IPNet{IP: b.Gateway.To4(), Mask: b.Subnet.Mask}
}
