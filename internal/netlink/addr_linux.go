package netlink

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// family returns the address family of ip and ip in its wire form: 4
// bytes for IPv4, 16 for IPv6.
func family(ip net.IP) (uint8, net.IP, error) {
	if v4 := ip.To4(); v4 != nil {
		return unix.AF_INET, v4, nil
	}
	if len(ip) == net.IPv6len {
		return unix.AF_INET6, ip, nil
	}
	return 0, nil, fmt.Errorf("%w: %q is neither IPv4 nor IPv6", ErrInvalidAddr, ip)
}

// AddAddr adds addr to the link called name: addr.IP is the host's own
// address and addr.Mask the prefix of its subnet, as in 10.89.0.2/16. The
// kernel adds the route to the subnet with it. If the link has that
// address already, the error wraps os.ErrExist.
func (h *Handle) AddAddr(name string, addr *net.IPNet) error {
	if err := h.addAddr(name, addr); err != nil {
		return fmt.Errorf("netlink: add address %s to %s: %w", addr, name, err)
	}
	return nil
}

func (h *Handle) addAddr(name string, addr *net.IPNet) error {
	if addr == nil {
		return fmt.Errorf("%w: nil", ErrInvalidAddr)
	}
	fam, ip, err := family(addr.IP)
	if err != nil {
		return err
	}
	ones, bits := addr.Mask.Size()
	if bits != len(ip)*8 {
		return fmt.Errorf("%w: mask %s does not fit %s", ErrInvalidAddr, addr.Mask, addr.IP)
	}
	index, err := h.index(name)
	if err != nil {
		return err
	}
	m := newMessage(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, unix.IfAddrmsg{
		Family:    fam,
		Prefixlen: uint8(ones),
		Index:     uint32(index),
	})
	// IFA_LOCAL is the address itself, IFA_ADDRESS the peer's on a
	// point-to-point link; on any other link both are the address.
	m.attr(unix.IFA_LOCAL, ip)
	m.attr(unix.IFA_ADDRESS, ip)
	if fam == unix.AF_INET && ones < 31 {
		// What `ip addr add … brd +` sets: the subnet's last address.
		brd := make(net.IP, len(ip))
		for i := range ip {
			brd[i] = ip[i] | ^addr.Mask[i]
		}
		m.attr(unix.IFA_BROADCAST, brd)
	}
	_, err = h.request(m)
	return err
}

// Addrs returns the addresses of the link called name, IPv4 and IPv6, or
// of every link when name is "". Each is the host's address with the mask
// of its subnet, as AddAddr takes them.
func (h *Handle) Addrs(name string) ([]*net.IPNet, error) {
	addrs, err := h.addrs(name)
	if err != nil {
		return nil, fmt.Errorf("netlink: list addresses of %q: %w", name, err)
	}
	return addrs, nil
}

func (h *Handle) addrs(name string) ([]*net.IPNet, error) {
	index := 0
	if name != "" {
		var err error
		if index, err = h.index(name); err != nil {
			return nil, err
		}
	}
	// The dump covers every link: asking the kernel to filter needs strict
	// checking, which older kernels lack.
	replies, err := h.request(newMessage(unix.RTM_GETADDR, unix.NLM_F_DUMP, unix.IfAddrmsg{}))
	if err != nil {
		return nil, err
	}
	var addrs []*net.IPNet
	for _, b := range replies {
		var ifa unix.IfAddrmsg
		attrs, err := parseHeader(b, &ifa)
		if err != nil {
			return nil, err
		}
		if index != 0 && int(ifa.Index) != index {
			continue
		}
		ip := attrs[unix.IFA_LOCAL]
		if ip == nil {
			ip = attrs[unix.IFA_ADDRESS] // IPv6 sends only this
		}
		if len(ip) != net.IPv4len && len(ip) != net.IPv6len {
			continue
		}
		addrs = append(addrs, &net.IPNet{
			IP:   append(net.IP(nil), ip...),
			Mask: net.CIDRMask(int(ifa.Prefixlen), len(ip)*8),
		})
	}
	return addrs, nil
}
