package network

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
)

// ErrPoolExhausted is returned when no free subnet or address is left.
var ErrPoolExhausted = errors.New("no free address left")

// pool is where networks get their subnets from when none is given, as
// Docker's default address pools: 172.17-31.0.0/16, then 192.168.x.0/20.
func pool() []*net.IPNet {
	var out []*net.IPNet
	for i := 17; i <= 31; i++ {
		out = append(out, &net.IPNet{IP: net.IPv4(172, byte(i), 0, 0).To4(), Mask: net.CIDRMask(16, 32)})
	}
	for i := 0; i < 256; i += 16 {
		out = append(out, &net.IPNet{IP: net.IPv4(192, 168, byte(i), 0).To4(), Mask: net.CIDRMask(20, 32)})
	}
	return out
}

// Overlaps says whether a and b share an address.
func Overlaps(a, b *net.IPNet) bool {
	return a.Contains(b.IP) || b.Contains(a.IP)
}

// FreeSubnet is the first subnet of the default pool that overlaps none of
// taken (other networks' subnets and the host's routes).
func FreeSubnet(taken []*net.IPNet) (*net.IPNet, error) {
next:
	for _, s := range pool() {
		for _, t := range taken {
			if t != nil && Overlaps(s, t) {
				continue next
			}
		}
		return s, nil
	}
	return nil, fmt.Errorf("every subnet of the default pools is in use: %w (give one with --subnet)", ErrPoolExhausted)
}

// ParseSubnet parses an IPv4 CIDR for a network: the network address, at
// most a /30 so that a gateway and a container fit.
func ParseSubnet(s string) (*net.IPNet, error) {
	ip, n, err := net.ParseCIDR(s)
	if err != nil || ip.To4() == nil {
		return nil, fmt.Errorf("%q is not an IPv4 subnet (like 10.10.0.0/16)", s)
	}
	if ones, _ := n.Mask.Size(); ones > 30 {
		return nil, fmt.Errorf("subnet %s is too small: at most /30", s)
	}
	n.IP = n.IP.To4()
	return n, nil
}

// Gateway is the subnet's first host address, as Docker picks it.
func Gateway(subnet *net.IPNet) net.IP {
	return addrAt(subnet, 1)
}

// NextIP is the lowest host address of subnet that is neither the gateway
// nor in used.
func NextIP(subnet *net.IPNet, gateway net.IP, used map[string]bool) (net.IP, error) {
	ones, bits := subnet.Mask.Size()
	size := uint32(1) << (bits - ones)
	for i := uint32(1); i < size-1; i++ {
		ip := addrAt(subnet, i)
		if ip.Equal(gateway) || used[ip.String()] {
			continue
		}
		return ip, nil
	}
	return nil, fmt.Errorf("subnet %s: %w", subnet, ErrPoolExhausted)
}

func addrAt(subnet *net.IPNet, i uint32) net.IP {
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, binary.BigEndian.Uint32(subnet.IP.To4())+i)
	return ip
}

// MAC is the address Docker gives a container on a bridge: 02:42 and the
// four bytes of its IPv4 address, locally administered and unique on the
// network.
func MAC(ip net.IP) net.HardwareAddr {
	return append(net.HardwareAddr{0x02, 0x42}, ip.To4()...)
}
