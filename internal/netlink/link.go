package netlink

import "net"

// Link is a network interface as the kernel reports it.
type Link struct {
	Index int
	Name  string
	// Kind is the link type from IFLA_INFO_KIND ("bridge", "veth"), or ""
	// for devices that have none, such as lo or a physical NIC.
	Kind         string
	MTU          int
	Up           bool // administratively up (IFF_UP), not whether it has a carrier
	HardwareAddr net.HardwareAddr
	MasterIndex  int // index of the bridge it is enslaved to, or 0
}
