package netlink

import "net"

// Route is a unicast route of the main routing table.
type Route struct {
	Dst       *net.IPNet // nil for a default route
	Gateway   net.IP     // nil for a route straight out of a link
	LinkIndex int        // output link, or 0 when the route names none
}
