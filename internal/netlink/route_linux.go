package netlink

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// AddDefaultRoute adds a default route via gw to the main table, IPv4 or
// IPv6 after gw, out of the link called dev (or whichever link reaches gw
// when dev is ""). gw must be reachable already, through the subnet of an
// address on the link. If there is a default route already, the error
// wraps os.ErrExist.
func (h *Handle) AddDefaultRoute(gw net.IP, dev string) error {
	if err := h.addDefaultRoute(gw, dev); err != nil {
		if dev == "" {
			return fmt.Errorf("netlink: add default route via %s: %w", gw, err)
		}
		return fmt.Errorf("netlink: add default route via %s dev %s: %w", gw, dev, err)
	}
	return nil
}

func (h *Handle) addDefaultRoute(gw net.IP, dev string) error {
	fam, gw, err := family(gw)
	if err != nil {
		return err
	}
	m := newMessage(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL, unix.RtMsg{
		Family:   fam,
		Table:    unix.RT_TABLE_MAIN,
		Protocol: unix.RTPROT_BOOT, // what ip(8) marks routes added by hand with
		Scope:    unix.RT_SCOPE_UNIVERSE,
		Type:     unix.RTN_UNICAST,
	})
	m.attr(unix.RTA_GATEWAY, gw)
	if dev != "" {
		index, err := h.index(dev)
		if err != nil {
			return err
		}
		m.attrUint32(unix.RTA_OIF, uint32(index))
	}
	_, err = h.request(m)
	return err
}

// Routes returns the unicast routes of the main table, IPv4 and IPv6. It
// leaves out the local table (routes to the host's own addresses) and
// other route types (blackhole, unreachable, multicast).
func (h *Handle) Routes() ([]Route, error) {
	replies, err := h.request(newMessage(unix.RTM_GETROUTE, unix.NLM_F_DUMP, unix.RtMsg{}))
	if err != nil {
		return nil, fmt.Errorf("netlink: list routes: %w", err)
	}
	var routes []Route
	for _, b := range replies {
		var rtm unix.RtMsg
		attrs, err := parseHeader(b, &rtm)
		if err != nil {
			return nil, fmt.Errorf("netlink: list routes: %w", err)
		}
		// rtm_table has 8 bits; RTA_TABLE holds the full table id.
		table := uint32(rtm.Table)
		if t, ok := attrs[unix.RTA_TABLE]; ok {
			table = getUint32(t)
		}
		if table != unix.RT_TABLE_MAIN || rtm.Type != unix.RTN_UNICAST {
			continue
		}
		r := Route{LinkIndex: int(getUint32(attrs[unix.RTA_OIF]))}
		if dst := attrs[unix.RTA_DST]; rtm.Dst_len > 0 && len(dst) > 0 {
			r.Dst = &net.IPNet{
				IP:   append(net.IP(nil), dst...),
				Mask: net.CIDRMask(int(rtm.Dst_len), len(dst)*8),
			}
		}
		if gw := attrs[unix.RTA_GATEWAY]; len(gw) > 0 {
			r.Gateway = append(net.IP(nil), gw...)
		}
		routes = append(routes, r)
	}
	return routes, nil
}
