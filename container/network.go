package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kiln-build/kiln/network"
)

// The networks every root has: "bridge" is made on first use, "host" and
// "none" are modes rather than networks and never stored.
const (
	DefaultNetwork = "bridge"
	defaultBridge  = "kiln0"
)

var (
	// ErrNoNetwork reports a name or ID that matches no network.
	ErrNoNetwork = errors.New("no such network")
	// ErrNetworkInUse reports a network that running containers are on.
	ErrNetworkInUse = errors.New("network has active endpoints")
)

// Network is a recorded network.
type Network struct {
	ID       string
	Name     string
	Driver   string // "bridge", or "host" and "null" for the modes
	Bridge   string `json:",omitempty"` // the host interface
	Subnet   string `json:",omitempty"`
	Gateway  string `json:",omitempty"`
	Internal bool   `json:",omitempty"`
	Created  time.Time
}

// Predefined says whether n is one of bridge, host and none, which cannot
// be removed.
func (n *Network) Predefined() bool {
	return n.Name == DefaultNetwork || n.Driver != "bridge"
}

func (n *Network) bridge() (network.Bridge, error) {
	_, subnet, err := net.ParseCIDR(n.Subnet)
	if err != nil {
		return network.Bridge{}, fmt.Errorf("network %s: bad subnet %q", n.Name, n.Subnet)
	}
	return network.Bridge{Name: n.Bridge, Subnet: subnet, Gateway: net.ParseIP(n.Gateway), Internal: n.Internal}, nil
}

// Endpoint is a running container's place on a network.
type Endpoint struct {
	Container string // ID
	Name      string
	Aliases   []string `json:",omitempty"`
	IP        string
	MAC       string
	Veth      string // the host end of its veth pair
	// Pid and StartTime name the container's init: once it is gone the
	// endpoint is stale and its address free.
	Pid       int
	StartTime uint64
	// HostsFile is the container's /etc/hosts, rewritten in place as peers
	// come and go: HostsBase, then a line per peer.
	HostsFile string
	HostsBase string
}

func (e *Endpoint) live() bool {
	st, err := ProcessStartTime(e.Pid)
	return err == nil && st == e.StartTime
}

// NetworkStore is the networks/ directory of a kiln root: a directory per
// network holding network.json and endpoints/ID.json per container on it.
type NetworkStore struct {
	dir string
}

// OpenNetworks returns the NetworkStore in dir, creating dir if missing.
func OpenNetworks(dir string) (*NetworkStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open networks %s: %w", dir, err)
	}
	return &NetworkStore{dir: dir}, nil
}

func (s *NetworkStore) lock() (func(), error) { return lockDir(s.dir, "networks") }

// NetworkOptions are kiln network create's flags.
type NetworkOptions struct {
	Subnet   string // CIDR; "" picks a free one
	Gateway  string // "" is the subnet's first address
	Internal bool
}

// Create records a new bridge network; its interface is made when the
// first container joins it.
func (s *NetworkStore) Create(name string, o NetworkOptions) (*Network, error) {
	if !ValidName(name) {
		return nil, fmt.Errorf("invalid network name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	if name == "host" || name == "none" || name == DefaultNetwork {
		return nil, fmt.Errorf("network %s is pre-defined: pick another name", name)
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	all, err := s.list()
	if err != nil {
		return nil, err
	}
	for _, n := range all {
		// Names only: a new name may well be a prefix of some ID.
		if n.Name == name {
			return nil, fmt.Errorf("network with name %s already exists", name)
		}
	}
	id := NewID()
	return s.create(&Network{ID: id, Name: name, Bridge: "kiln-" + id[:10], Internal: o.Internal}, o)
}

// create assigns n its subnet and gateway and writes it; s is locked.
func (s *NetworkStore) create(n *Network, o NetworkOptions) (*Network, error) {
	all, err := s.list()
	if err != nil {
		return nil, err
	}
	var taken []*net.IPNet
	for _, other := range all {
		if _, sn, err := net.ParseCIDR(other.Subnet); err == nil {
			taken = append(taken, sn)
		}
	}
	var subnet *net.IPNet
	if o.Subnet != "" {
		if subnet, err = network.ParseSubnet(o.Subnet); err != nil {
			return nil, fmt.Errorf("--subnet: %w", err)
		}
		for i, t := range taken {
			if network.Overlaps(subnet, t) {
				return nil, fmt.Errorf("--subnet %s overlaps network %s (%s)", o.Subnet, all[i].Name, t)
			}
		}
	} else {
		routes, err := network.HostRoutes()
		if err != nil {
			return nil, err
		}
		if subnet, err = network.FreeSubnet(append(taken, routes...)); err != nil {
			return nil, err
		}
	}
	gw := network.Gateway(subnet)
	if o.Gateway != "" {
		if gw = net.ParseIP(o.Gateway).To4(); gw == nil || !subnet.Contains(gw) {
			return nil, fmt.Errorf("--gateway %s: not an address of subnet %s", o.Gateway, subnet)
		}
	}
	n.Driver, n.Subnet, n.Gateway, n.Created = "bridge", subnet.String(), gw.String(), time.Now().UTC()
	dir := filepath.Join(s.dir, n.ID)
	if err := os.MkdirAll(filepath.Join(dir, "endpoints"), 0o700); err != nil {
		return nil, fmt.Errorf("create network %s: %w", n.Name, err)
	}
	if err := writeJSON(filepath.Join(dir, "network.json"), n); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return n, nil
}

// modes are the networks that are not bridges.
var modes = map[string]*Network{
	"host": {ID: strings.Repeat("0", 63) + "1", Name: "host", Driver: "host"},
	"none": {ID: strings.Repeat("0", 63) + "2", Name: "none", Driver: "null"},
}

// Get finds a network by name, ID or unique ID prefix. The default bridge
// network is recorded on first use.
func (s *NetworkStore) Get(ref string) (*Network, error) {
	if ref != DefaultNetwork {
		return s.resolve(ref) // no record is made: no lock needed
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.resolve(ref)
}

// resolve is Get's lookup: a mode, the default network (made if missing;
// s is then locked) or a recorded one.
func (s *NetworkStore) resolve(ref string) (*Network, error) {
	if m, ok := modes[ref]; ok {
		return m, nil
	}
	n, err := s.find(ref)
	if ref == DefaultNetwork && errors.Is(err, ErrNoNetwork) {
		return s.makeDefault()
	}
	return n, err
}

// makeDefault records the default bridge network; s is locked.
func (s *NetworkStore) makeDefault() (*Network, error) {
	// Another root's default network may hold kiln0 already: the two must
	// not share a bridge, or their addresses would clash.
	id := NewID()
	br := defaultBridge
	if network.LinkExists(br) {
		br = "kiln-" + id[:10]
	}
	return s.create(&Network{ID: id, Name: DefaultNetwork, Bridge: br}, NetworkOptions{})
}

func (s *NetworkStore) find(ref string) (*Network, error) {
	if ref == "" {
		return nil, fmt.Errorf("%w: empty name", ErrNoNetwork)
	}
	all, err := s.list()
	if err != nil {
		return nil, err
	}
	var found []*Network
	for _, n := range all {
		if n.Name == ref || n.ID == ref {
			return n, nil
		}
		if strings.HasPrefix(n.ID, ref) {
			found = append(found, n)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	if len(found) > 1 {
		return nil, fmt.Errorf("network %s is ambiguous: it matches %d networks", ref, len(found))
	}
	return nil, fmt.Errorf("%w: %s", ErrNoNetwork, ref)
}

// List returns the bridge, host and none networks and every user network,
// by name.
func (s *NetworkStore) List() ([]*Network, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	all, err := s.list()
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(all, func(n *Network) bool { return n.Name == DefaultNetwork }) {
		n, err := s.makeDefault()
		if err != nil {
			return nil, err
		}
		all = append(all, n)
	}
	all = append(all, modes["host"], modes["none"])
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all, nil
}

func (s *NetworkStore) list() ([]*Network, error) {
	names, err := recordDirs(s.dir, "networks")
	if err != nil {
		return nil, err
	}
	var out []*Network
	for _, name := range names {
		var n Network
		b, err := os.ReadFile(filepath.Join(s.dir, name, "network.json"))
		if errors.Is(err, os.ErrNotExist) {
			continue // half made or half removed
		}
		if err == nil {
			err = json.Unmarshal(b, &n)
		}
		if err != nil {
			return nil, fmt.Errorf("read network %s: %w", name, err)
		}
		out = append(out, &n)
	}
	return out, nil
}

// Remove deletes a user network and its bridge. One with running
// containers on it is refused, as Docker does.
func (s *NetworkStore) Remove(ref string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if _, ok := modes[ref]; ok || ref == DefaultNetwork {
		return fmt.Errorf("%s is a pre-defined network and cannot be removed", ref)
	}
	n, err := s.find(ref)
	if err != nil {
		return err
	}
	if n.Predefined() {
		return fmt.Errorf("%s is a pre-defined network and cannot be removed", n.Name)
	}
	eps, err := s.endpoints(n)
	if err != nil {
		return err
	}
	if len(eps) > 0 {
		var names []string
		for _, e := range eps {
			names = append(names, e.Name)
		}
		return fmt.Errorf("network %s: %w (%s): stop them first", n.Name, ErrNetworkInUse, strings.Join(names, ", "))
	}
	b, err := n.bridge()
	if err != nil {
		return err
	}
	if err := b.Remove(); err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(s.dir, n.ID))
}

// Endpoints returns the live endpoints of n, by name.
func (s *NetworkStore) Endpoints(n *Network) ([]*Endpoint, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.endpoints(n)
}

// endpoints reads n's endpoints and forgets stale ones; s is locked.
func (s *NetworkStore) endpoints(n *Network) ([]*Endpoint, error) {
	dir := filepath.Join(s.dir, n.ID, "endpoints")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	var out []*Endpoint
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		var ep Endpoint
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err == nil {
			err = json.Unmarshal(b, &ep)
		}
		if err != nil || !ep.live() {
			// A supervisor killed before it could detach.
			if ep.Veth != "" {
				_ = network.Disconnect(ep.Veth)
			}
			_ = os.Remove(filepath.Join(dir, e.Name()))
			continue
		}
		out = append(out, &ep)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Attachment is a container's address on a network.
type Attachment struct {
	Network  string
	IP       string
	Gateway  string
	MAC      string
	Prefix   int
	Warning  error `json:"-"` // something that works less than fully, for the user
	endpoint string
}

// Attach connects the container whose init is ep.Pid to the network ref:
// its bridge is made if needed, an address is picked, and /etc/hosts of
// every container on the network is brought up to date. hostsBase makes
// the container's own hosts lines once its address is known.
func (s *NetworkStore) Attach(ref string, ep Endpoint, hostsBase func(ip string) string) (*Attachment, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	n, err := s.resolve(ref)
	if err != nil {
		return nil, err
	}
	b, err := n.bridge()
	if err != nil {
		return nil, err
	}
	warning, err := b.Ensure()
	if err != nil {
		return nil, err
	}
	eps, err := s.endpoints(n)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, e := range eps {
		used[e.IP] = true
	}
	ip, err := network.NextIP(b.Subnet, b.Gateway, used)
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	ep.IP, ep.MAC, ep.Veth = ip.String(), network.MAC(ip).String(), "veth"+ep.Container[:11]
	ep.HostsBase = hostsBase(ep.IP)
	if err := b.Connect(ep.Pid, ep.Veth, ip); err != nil {
		return nil, err
	}
	path := filepath.Join(s.dir, n.ID, "endpoints", ep.Container+".json")
	if err := writeJSON(path, &ep); err != nil {
		_ = network.Disconnect(ep.Veth)
		return nil, err
	}
	s.refreshHosts(n, append(eps, &ep))
	ones, _ := b.Subnet.Mask.Size()
	return &Attachment{Network: n.Name, IP: ep.IP, Gateway: n.Gateway, MAC: ep.MAC, Prefix: ones, Warning: warning, endpoint: path}, nil
}

// Detach takes a container off the network it was attached to.
func (s *NetworkStore) Detach(a *Attachment) error {
	if a == nil {
		return nil
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	// The veth pair goes with the container's network namespace, which
	// the kernel tears down in the background once the container has
	// exited: deleting it here would wait for that (~10 ms of RCU grace
	// periods) for nothing. Connect removes one that is still there.
	if err := os.Remove(a.endpoint); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	n, err := s.find(a.Network)
	if err != nil {
		return nil // removed meanwhile
	}
	eps, err := s.endpoints(n)
	if err != nil {
		return err
	}
	s.refreshHosts(n, eps)
	return nil
}

// refreshHosts rewrites each endpoint's /etc/hosts in place (the
// container's bind mount holds the inode): its own lines, then, on user
// networks, a line per container on it (itself included) with its name,
// aliases and short ID. Docker's default bridge resolves no names, and
// neither does kiln's.
func (s *NetworkStore) refreshHosts(n *Network, eps []*Endpoint) {
	for _, ep := range eps {
		var b strings.Builder
		b.WriteString(ep.HostsBase)
		if n.Name != DefaultNetwork {
			for _, p := range eps {
				fmt.Fprintf(&b, "%s\t%s", p.IP, p.Name)
				for _, a := range p.Aliases {
					b.WriteString(" " + a)
				}
				b.WriteString(" " + p.Container[:12] + "\n")
			}
		}
		_ = rewriteInPlace(ep.HostsFile, b.String())
	}
}

// rewriteInPlace replaces path's content without replacing its inode.
func rewriteInPlace(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
