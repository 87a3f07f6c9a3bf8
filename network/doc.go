// Package network wires containers to bridge networks, as Docker's bridge
// driver does: a Linux bridge per network holding the gateway address, a
// veth pair per container whose inner end becomes the container's eth0,
// outbound NAT through iptables, and published ports served by a userland
// proxy in the container's supervisor.
//
// The package holds mechanism only; which networks exist and which
// container holds which address is recorded by the container package.
package network
