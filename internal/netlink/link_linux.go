package netlink

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// The kernel finds a link by IFLA_IFNAME when ifi_index is 0, in get, set
// and delete alike, so requests about one link name it and need no lookup.

// linkMessage starts a link request about the link called name.
func linkMessage(typ, flags uint16, ifi unix.IfInfomsg, name string) *message {
	m := newMessage(typ, flags, ifi)
	m.attrName(unix.IFLA_IFNAME, name)
	return m
}

// LinkByName returns the link called name; when there is none, the error
// wraps os.ErrNotExist.
func (h *Handle) LinkByName(name string) (Link, error) {
	l, _, err := h.link(name)
	if err != nil {
		return Link{}, fmt.Errorf("netlink: link %s: %w", name, err)
	}
	return l, nil
}

// link returns the link called name and its raw attributes.
func (h *Handle) link(name string) (Link, map[uint16][]byte, error) {
	replies, err := h.request(linkMessage(unix.RTM_GETLINK, 0, unix.IfInfomsg{}, name))
	if err != nil {
		return Link{}, nil, err
	}
	if len(replies) != 1 {
		return Link{}, nil, fmt.Errorf("%w: %d replies to a link request", errMalformed, len(replies))
	}
	return parseLink(replies[0])
}

// index returns the index of the link called name.
func (h *Handle) index(name string) (int, error) {
	l, _, err := h.link(name)
	return l.Index, err
}

// Links returns every link in the handle's namespace.
func (h *Handle) Links() ([]Link, error) {
	replies, err := h.request(newMessage(unix.RTM_GETLINK, unix.NLM_F_DUMP, unix.IfInfomsg{}))
	if err != nil {
		return nil, fmt.Errorf("netlink: list links: %w", err)
	}
	links := make([]Link, 0, len(replies))
	for _, b := range replies {
		l, _, err := parseLink(b)
		if err != nil {
			return nil, fmt.Errorf("netlink: list links: %w", err)
		}
		links = append(links, l)
	}
	return links, nil
}

func parseLink(b []byte) (Link, map[uint16][]byte, error) {
	var ifi unix.IfInfomsg
	attrs, err := parseHeader(b, &ifi)
	if err != nil {
		return Link{}, nil, err
	}
	l := Link{
		Index:       int(ifi.Index),
		Name:        getString(attrs[unix.IFLA_IFNAME]),
		Kind:        getString(parseAttrs(attrs[unix.IFLA_LINKINFO])[unix.IFLA_INFO_KIND]),
		MTU:         int(getUint32(attrs[unix.IFLA_MTU])),
		Up:          ifi.Flags&unix.IFF_UP != 0,
		MasterIndex: int(getUint32(attrs[unix.IFLA_MASTER])),
	}
	if a := attrs[unix.IFLA_ADDRESS]; len(a) > 0 {
		l.HardwareAddr = net.HardwareAddr(append([]byte(nil), a...))
	}
	return l, attrs, nil
}

// LinkStats returns the bytes received and sent on the link called name,
// from its 64-bit counters (IFLA_STATS64).
func (h *Handle) LinkStats(name string) (rxBytes, txBytes uint64, err error) {
	_, attrs, err := h.link(name)
	if err != nil {
		return 0, 0, fmt.Errorf("netlink: stats of %s: %w", name, err)
	}
	// struct rtnl_link_stats64 opens with rx_packets, tx_packets,
	// rx_bytes, tx_bytes.
	s := attrs[unix.IFLA_STATS64]
	if len(s) < 32 {
		return 0, 0, fmt.Errorf("netlink: stats of %s: %w: no IFLA_STATS64", name, errMalformed)
	}
	return native.Uint64(s[16:]), native.Uint64(s[24:]), nil
}

// AddBridge creates a bridge called name, down. If a link of that name
// exists, the error wraps os.ErrExist.
func (h *Handle) AddBridge(name string) error {
	m := linkMessage(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL, unix.IfInfomsg{}, name)
	info := m.begin(unix.IFLA_LINKINFO)
	m.attrString(unix.IFLA_INFO_KIND, "bridge")
	m.end(info)
	if _, err := h.request(m); err != nil {
		return fmt.Errorf("netlink: add bridge %s: %w", name, err)
	}
	return nil
}

// AddVeth creates a veth pair, both ends down: name in this handle's
// namespace and peer in the namespace of process peerPid, or in this
// namespace when peerPid is 0. Creating the peer where it belongs, rather
// than moving it afterwards, means it never shows up on the host.
func (h *Handle) AddVeth(name, peer string, peerPid int) error {
	m := linkMessage(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL, unix.IfInfomsg{}, name)
	info := m.begin(unix.IFLA_LINKINFO)
	m.attrString(unix.IFLA_INFO_KIND, "veth")
	data := m.begin(unix.IFLA_INFO_DATA)
	// The peer is described like a link request of its own: an ifinfomsg,
	// then its attributes.
	p := m.begin(vethInfoPeer)
	m.put(unix.IfInfomsg{})
	m.attrName(unix.IFLA_IFNAME, peer)
	if peerPid != 0 {
		m.attrUint32(unix.IFLA_NET_NS_PID, uint32(peerPid))
	}
	m.end(p)
	m.end(data)
	m.end(info)
	if _, err := h.request(m); err != nil {
		return fmt.Errorf("netlink: add veth %s (peer %s): %w", name, peer, err)
	}
	return nil
}

// SetMaster enslaves the link called name to the bridge called master; an
// empty master releases it from its bridge.
func (h *Handle) SetMaster(name, master string) error {
	if err := h.setMaster(name, master); err != nil {
		return fmt.Errorf("netlink: set master of %s to %q: %w", name, master, err)
	}
	return nil
}

func (h *Handle) setMaster(name, master string) error {
	index := 0
	if master != "" {
		var err error
		if index, err = h.index(master); err != nil {
			return err
		}
	}
	m := linkMessage(unix.RTM_SETLINK, 0, unix.IfInfomsg{}, name)
	m.attrUint32(unix.IFLA_MASTER, uint32(index))
	_, err := h.request(m)
	return err
}

// SetUp brings the link called name up.
func (h *Handle) SetUp(name string) error {
	m := linkMessage(unix.RTM_SETLINK, 0, unix.IfInfomsg{Flags: unix.IFF_UP, Change: unix.IFF_UP}, name)
	if _, err := h.request(m); err != nil {
		return fmt.Errorf("netlink: set %s up: %w", name, err)
	}
	return nil
}

// SetMTU sets the MTU of the link called name.
func (h *Handle) SetMTU(name string, mtu int) error {
	m := linkMessage(unix.RTM_SETLINK, 0, unix.IfInfomsg{}, name)
	m.attrUint32(unix.IFLA_MTU, uint32(mtu))
	if _, err := h.request(m); err != nil {
		return fmt.Errorf("netlink: set mtu of %s to %d: %w", name, mtu, err)
	}
	return nil
}

// SetHardwareAddr sets the MAC address of the link called name.
func (h *Handle) SetHardwareAddr(name string, mac net.HardwareAddr) error {
	m := linkMessage(unix.RTM_SETLINK, 0, unix.IfInfomsg{}, name)
	m.attr(unix.IFLA_ADDRESS, mac)
	if _, err := h.request(m); err != nil {
		return fmt.Errorf("netlink: set address of %s to %s: %w", name, mac, err)
	}
	return nil
}

// DeleteLink deletes the link called name; deleting either end of a veth
// pair deletes both. When there is no such link, the error wraps
// os.ErrNotExist.
func (h *Handle) DeleteLink(name string) error {
	if _, err := h.request(linkMessage(unix.RTM_DELLINK, 0, unix.IfInfomsg{}, name)); err != nil {
		return fmt.Errorf("netlink: delete link %s: %w", name, err)
	}
	return nil
}
