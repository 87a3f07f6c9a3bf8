//go:build linux

package netlink

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The privileged tests each run in a network namespace of their own, made by
// newNetns, so they create real links without touching the host's. A second
// namespace, for the far end of a veth pair, is a copy of this test binary
// started by otherNetns, which unshares in init and waits.

const helperEnv = "KILN_NETLINK_TEST_NETNS"

// init rather than TestMain: during init the main goroutine is locked to
// the main thread, whose id is the pid, so the namespace unshared here is
// the one /proc/PID/ns/net and IFLA_NET_NS_PID name.
func init() {
	if os.Getenv(helperEnv) != "1" {
		return
	}
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		fmt.Fprintln(os.Stderr, "unshare:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	// Stay until the test closes stdin, or dies and the pipe closes.
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// newNetns moves the test's goroutine into a new network namespace, whose
// only link is lo (down), and returns a Handle there. The thread is never
// unlocked: when the test's goroutine ends, the runtime ends the thread, and
// the namespace goes with it.
func newNetns(t *testing.T) *Handle {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root and CLONE_NEWNET: not running as root")
	}
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Skipf("needs root and CLONE_NEWNET: unshare: %v", err)
	}
	h, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// otherNetns starts a process in a network namespace of its own and returns
// its pid. The process exits when the test ends.
func otherNetns(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("netns helper: %q, %v; stderr: %s", line, err, stderr.Bytes())
	}
	return cmd.Process.Pid
}

func hasIPv6() bool {
	_, err := os.Stat("/proc/sys/net/ipv6")
	return err == nil
}

func mustIPNet(t *testing.T, s string) *net.IPNet {
	t.Helper()
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	n.IP = ip
	return n
}

func mustLink(t *testing.T, h *Handle, name string) Link {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func addrStrings(addrs []*net.IPNet) []string {
	var s []string
	for _, a := range addrs {
		s = append(s, a.String())
	}
	slices.Sort(s)
	return s
}

func TestLoopback(t *testing.T) {
	h := newNetns(t)
	lo := mustLink(t, h, "lo")
	if lo.Index != 1 || lo.Up || lo.MTU != 65536 || lo.Kind != "" {
		t.Errorf("fresh lo = %+v, want index 1, down, mtu 65536, no kind", lo)
	}
	if got, _ := h.Addrs("lo"); len(got) != 0 {
		t.Errorf("addresses of lo while down: got %v, want none", got)
	}
	check(t, h.SetUp("lo"))
	if lo = mustLink(t, h, "lo"); !lo.Up {
		t.Errorf("lo after SetUp: got down, want up")
	}
	want := []string{"127.0.0.1/8"}
	if hasIPv6() {
		want = append(want, "::1/128")
	}
	for _, name := range []string{"lo", ""} {
		addrs, err := h.Addrs(name)
		check(t, err)
		if got := addrStrings(addrs); !slices.Equal(got, want) {
			t.Errorf("Addrs(%q) = %v, want %v", name, got, want)
		}
	}
	links, err := h.Links()
	check(t, err)
	if i := slices.IndexFunc(links, func(l Link) bool { return l.Name == "lo" }); i < 0 || links[i].Index != 1 || !links[i].Up {
		t.Errorf("Links() = %+v, want lo with index 1, up", links)
	}
}

func TestBridge(t *testing.T) {
	h := newNetns(t)
	check(t, h.AddBridge("kiln0"))
	br := mustLink(t, h, "kiln0")
	if br.Kind != "bridge" || br.Up || br.MTU != 1500 || len(br.HardwareAddr) != 6 || br.Index <= 1 {
		t.Errorf("new bridge = %+v, want kind bridge, down, mtu 1500, a MAC", br)
	}

	err := h.AddBridge("kiln0")
	if !errors.Is(err, os.ErrExist) || !errors.Is(err, unix.EEXIST) {
		t.Errorf("adding kiln0 twice: got %v, want os.ErrExist and EEXIST", err)
	}
	if err != nil && !strings.HasPrefix(err.Error(), "netlink: add bridge kiln0: file exists") {
		t.Errorf("error reads %q, want it to start \"netlink: add bridge kiln0: file exists\"", err)
	}

	mac := net.HardwareAddr{0x02, 0x42, 0xac, 0x11, 0x00, 0x01}
	check(t, h.SetUp("kiln0"))
	check(t, h.SetMTU("kiln0", 1400))
	check(t, h.SetHardwareAddr("kiln0", mac))
	got := mustLink(t, h, "kiln0")
	if !got.Up || got.MTU != 1400 || got.HardwareAddr.String() != mac.String() || got.Index != br.Index {
		t.Errorf("bridge after SetUp, SetMTU, SetHardwareAddr = %+v, want up, mtu 1400, %s, index %d", got, mac, br.Index)
	}
}

func TestVeth(t *testing.T) {
	h := newNetns(t)
	check(t, h.AddBridge("br0"))
	check(t, h.AddVeth("veth0", "veth1", 0))
	v0, v1 := mustLink(t, h, "veth0"), mustLink(t, h, "veth1")
	if v0.Kind != "veth" || v1.Kind != "veth" || v0.Index == v1.Index {
		t.Errorf("veth pair = %+v, %+v, want two veth links", v0, v1)
	}

	err := h.AddVeth("veth0", "veth1", 0)
	if want := "netlink: add veth veth0 (peer veth1): file exists"; err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, os.ErrExist) {
		t.Errorf("adding the pair twice: got %v, want %q wrapping os.ErrExist", err, want)
	}

	br := mustLink(t, h, "br0")
	check(t, h.SetMaster("veth0", "br0"))
	if got := mustLink(t, h, "veth0").MasterIndex; got != br.Index {
		t.Errorf("veth0's MasterIndex = %d, want br0's index %d", got, br.Index)
	}
	if got := mustLink(t, h, "veth1").MasterIndex; got != 0 {
		t.Errorf("veth1's MasterIndex = %d, want 0", got)
	}
	check(t, h.SetMaster("veth0", ""))
	if got := mustLink(t, h, "veth0").MasterIndex; got != 0 {
		t.Errorf("veth0's MasterIndex after release = %d, want 0", got)
	}

	check(t, h.DeleteLink("veth1"))
	for _, name := range []string{"veth0", "veth1"} {
		if _, err := h.LinkByName(name); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after deleting veth1: got %v, want os.ErrNotExist", name, err)
		}
	}
}

func TestNotFound(t *testing.T) {
	h := newNetns(t)
	gw := net.ParseIP("10.0.0.1")
	for name, f := range map[string]func() error{
		"LinkByName":      func() error { _, err := h.LinkByName("nosuch0"); return err },
		"LinkStats":       func() error { _, _, err := h.LinkStats("nosuch0"); return err },
		"DeleteLink":      func() error { return h.DeleteLink("nosuch0") },
		"SetUp":           func() error { return h.SetUp("nosuch0") },
		"SetMTU":          func() error { return h.SetMTU("nosuch0", 1400) },
		"SetHardwareAddr": func() error { return h.SetHardwareAddr("nosuch0", net.HardwareAddr{2, 0, 0, 0, 0, 1}) },
		"SetMaster link":  func() error { return h.SetMaster("nosuch0", "lo") },
		"SetMaster br":    func() error { return h.SetMaster("lo", "nosuch0") },
		"AddAddr":         func() error { return h.AddAddr("nosuch0", mustIPNet(t, "10.0.0.2/24")) },
		"Addrs":           func() error { _, err := h.Addrs("nosuch0"); return err },
		"AddDefaultRoute": func() error { return h.AddDefaultRoute(gw, "nosuch0") },
	} {
		t.Run(name, func(t *testing.T) {
			err := f()
			if !errors.Is(err, os.ErrNotExist) || !errors.Is(err, unix.ENODEV) || !strings.Contains(fmt.Sprint(err), "nosuch0") {
				t.Errorf("got %v, want an error naming nosuch0 wrapping os.ErrNotExist and ENODEV", err)
			}
		})
	}
}

func TestInvalidArguments(t *testing.T) {
	h := newNetns(t)
	long := "kiln-sixteen-by" + "x" // 16 bytes
	for name, f := range map[string]func() error{
		"bridge": func() error { return h.AddBridge(long) },
		"peer":   func() error { return h.AddVeth("veth0", long, 0) },
		"lookup": func() error { _, err := h.LinkByName(long); return err },
		"addr":   func() error { return h.AddAddr(long, mustIPNet(t, "10.0.0.2/24")) },
	} {
		t.Run(name, func(t *testing.T) {
			err := f()
			if !errors.Is(err, ErrInvalidName) || !strings.Contains(fmt.Sprint(err), long) {
				t.Errorf("got %v, want ErrInvalidName naming %s", err, long)
			}
		})
	}
	if _, err := h.LinkByName("veth0"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("veth0 after AddVeth with a bad peer name: got %v, want not there", err)
	}
	if err := h.AddBridge(long[:15]); err != nil {
		t.Errorf("15-byte name: %v", err)
	}

	check(t, h.AddBridge("br0"))
	for _, addr := range []*net.IPNet{nil, {IP: net.IP{10, 0, 0, 1}, Mask: net.CIDRMask(64, 128)}, {IP: net.IP{1, 2, 3}, Mask: net.CIDRMask(8, 32)}} {
		if err := h.AddAddr("br0", addr); !errors.Is(err, ErrInvalidAddr) {
			t.Errorf("AddAddr(%v): got %v, want ErrInvalidAddr", addr, err)
		}
	}
	if err := h.AddDefaultRoute(nil, "br0"); !errors.Is(err, ErrInvalidAddr) {
		t.Errorf("AddDefaultRoute(nil): got %v, want ErrInvalidAddr", err)
	}
}

func TestAddrs(t *testing.T) {
	h := newNetns(t)
	check(t, h.AddBridge("br0"))
	check(t, h.AddBridge("br1"))
	want := []string{"10.89.0.1/16"}
	check(t, h.AddAddr("br0", mustIPNet(t, "10.89.0.1/16")))
	if hasIPv6() {
		check(t, h.AddAddr("br0", mustIPNet(t, "fd00:89::1/64")))
		want = append(want, "fd00:89::1/64")
	}
	check(t, h.AddAddr("br1", mustIPNet(t, "192.168.7.1/24")))
	check(t, h.SetUp("br1")) // the kernel adds an IPv4 subnet route only for a link that is up

	err := h.AddAddr("br0", mustIPNet(t, "10.89.0.1/16"))
	if !errors.Is(err, os.ErrExist) || !errors.Is(err, unix.EEXIST) {
		t.Errorf("adding 10.89.0.1/16 twice: got %v, want os.ErrExist and EEXIST", err)
	}

	addrs, err := h.Addrs("br0")
	check(t, err)
	if got := addrStrings(addrs); !slices.Equal(got, want) {
		t.Errorf("Addrs(br0) = %v, want %v", got, want)
	}
	addrs, err = h.Addrs("")
	check(t, err)
	// br1 is up, so the kernel gave it an IPv6 link-local address too.
	addrs = slices.DeleteFunc(addrs, func(a *net.IPNet) bool { return a.IP.IsLinkLocalUnicast() })
	if got, want := addrStrings(addrs), append(want, "192.168.7.1/24"); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("Addrs(\"\") = %v, want %v", got, want)
	}

	routes, err := h.Routes()
	check(t, err)
	br1 := mustLink(t, h, "br1")
	if !slices.ContainsFunc(routes, func(r Route) bool {
		return r.Dst != nil && r.Dst.String() == "192.168.7.0/24" && r.Gateway == nil && r.LinkIndex == br1.Index
	}) {
		t.Errorf("Routes() = %v, want the subnet route 192.168.7.0/24 dev br1", routes)
	}
	for _, r := range routes {
		// The local table's routes to the host's own addresses must not
		// show up; the main table here has no host routes.
		if r.Dst == nil {
			continue
		}
		if ones, bits := r.Dst.Mask.Size(); ones == bits {
			t.Errorf("Routes() includes %v, a route of the local table", r.Dst)
		}
	}
}

// TestDumpSpansDatagrams checks that a dump larger than one datagram (the
// kernel packs at most 32 KiB into each) arrives whole.
func TestDumpSpansDatagrams(t *testing.T) {
	h := newNetns(t)
	const n = 50
	for i := range n {
		name := fmt.Sprintf("br%d", i)
		check(t, h.AddBridge(name))
		check(t, h.AddAddr(name, &net.IPNet{IP: net.IP{10, 1, byte(i), 1}, Mask: net.CIDRMask(24, 32)}))
	}
	replies, err := h.request(newMessage(unix.RTM_GETLINK, unix.NLM_F_DUMP, unix.IfInfomsg{}))
	check(t, err)
	size := 0
	for _, r := range replies {
		size += len(r)
	}
	if size < 64<<10 {
		t.Fatalf("link dump is %d bytes, too small to prove anything", size)
	}
	links, err := h.Links()
	check(t, err)
	for i := range n {
		if name := fmt.Sprintf("br%d", i); !slices.ContainsFunc(links, func(l Link) bool { return l.Name == name }) {
			t.Errorf("Links() lacks %s (%d links)", name, len(links))
		}
	}
	addrs, err := h.Addrs("")
	check(t, err)
	if len(addrs) != n {
		t.Errorf("Addrs(\"\") returned %d addresses, want %d", len(addrs), n)
	}
}

// TestContainerNetwork sets up what kiln gives a container, a bridge on the
// host and a veth pair whose peer is created in the container's namespace,
// and sends traffic across.
func TestContainerNetwork(t *testing.T) {
	h := newNetns(t)
	pid := otherNetns(t)
	ctr, err := OpenIn(fmt.Sprintf("/proc/%d/ns/net", pid))
	check(t, err)
	defer ctr.Close()

	check(t, h.AddBridge("kiln0"))
	check(t, h.AddAddr("kiln0", mustIPNet(t, "10.89.0.1/16")))
	check(t, h.SetUp("kiln0"))
	check(t, h.AddVeth("vethk0", "eth0", pid))
	if _, err := h.LinkByName("eth0"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("eth0 on the host side: got %v, want os.ErrNotExist", err)
	}
	// OpenIn left the test's thread where it was.
	if h2, err := Open(); err != nil {
		t.Error(err)
	} else {
		if _, err := h2.LinkByName("kiln0"); err != nil {
			t.Errorf("a handle opened after OpenIn: %v, want it in the test's netns", err)
		}
		h2.Close()
	}
	check(t, h.SetMaster("vethk0", "kiln0"))
	check(t, h.SetUp("vethk0"))

	eth0 := mustLink(t, ctr, "eth0")
	if eth0.Kind != "veth" {
		t.Errorf("eth0 in the container = %+v, want a veth", eth0)
	}
	if _, err := ctr.LinkByName("kiln0"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("kiln0 in the container: got %v, want os.ErrNotExist", err)
	}
	check(t, ctr.SetUp("lo"))
	check(t, ctr.AddAddr("eth0", mustIPNet(t, "10.89.0.2/16")))
	check(t, ctr.SetUp("eth0"))
	check(t, ctr.AddDefaultRoute(net.ParseIP("10.89.0.1"), "eth0"))
	if err := ctr.AddDefaultRoute(net.ParseIP("10.89.0.1"), "eth0"); !errors.Is(err, os.ErrExist) {
		t.Errorf("adding the default route twice: got %v, want os.ErrExist", err)
	}
	want := []string{
		fmt.Sprintf("default via 10.89.0.1 dev %d", eth0.Index),
		fmt.Sprintf("10.89.0.0/16 via <nil> dev %d", eth0.Index),
	}
	if hasIPv6() {
		check(t, ctr.AddAddr("eth0", mustIPNet(t, "fd00:89::2/64")))
		check(t, ctr.AddDefaultRoute(net.ParseIP("fd00:89::1"), "eth0"))
		want = append(want,
			fmt.Sprintf("default via fd00:89::1 dev %d", eth0.Index),
			fmt.Sprintf("fd00:89::/64 via <nil> dev %d", eth0.Index))
	}
	routes, err := ctr.Routes()
	check(t, err)
	var got []string
	for _, r := range routes {
		dst := "default"
		if r.Dst != nil {
			dst = r.Dst.String()
		}
		got = append(got, fmt.Sprintf("%s via %v dev %d", dst, r.Gateway, r.LinkIndex))
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("container routes %q lack %q", got, w)
		}
	}
	hostRoutes, err := h.Routes()
	check(t, err)
	if slices.ContainsFunc(hostRoutes, func(r Route) bool { return r.Dst == nil }) {
		t.Errorf("host-side routes %v: want no default route there", hostRoutes)
	}

	// Send UDP from the host side to the container; nothing listens, but
	// the bytes cross the pair whatever happens to them after.
	hostRx0, hostTx0, err := h.LinkStats("vethk0")
	check(t, err)
	ctrRx0, _, err := ctr.LinkStats("eth0")
	check(t, err)
	conn, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IP{10, 89, 0, 2}, Port: 9})
	check(t, err)
	defer conn.Close()
	payload := make([]byte, 1000)
	const sent = 3
	var hostRx, hostTx, ctrRx uint64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for range sent {
			conn.Write(payload) // errors are ICMP echoes of earlier ones
		}
		hostRx, hostTx, err = h.LinkStats("vethk0")
		check(t, err)
		ctrRx, _, err = ctr.LinkStats("eth0")
		check(t, err)
		if ctrRx-ctrRx0 >= sent*1028 && hostTx-hostTx0 >= sent*1028 && hostRx > hostRx0 {
			break
		}
	}
	if ctrRx-ctrRx0 < sent*1028 || hostTx-hostTx0 < sent*1028 || hostRx == hostRx0 {
		t.Errorf("after sending %d datagrams of 1028 bytes: vethk0 rx +%d tx +%d, eth0 rx +%d; want tx and the peer's rx up by at least %d, rx up",
			sent, hostRx-hostRx0, hostTx-hostTx0, ctrRx-ctrRx0, sent*1028)
	}

	check(t, h.DeleteLink("vethk0"))
	if _, err := ctr.LinkByName("eth0"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("eth0 in the container after deleting vethk0: got %v, want os.ErrNotExist", err)
	}
}

// TestAgainstIP compares what Links and Addrs report with ip(8)'s view of
// the same namespace.
func TestAgainstIP(t *testing.T) {
	h := newNetns(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip (iproute2) to compare against")
	}
	check(t, h.SetUp("lo"))
	check(t, h.AddBridge("br0"))
	check(t, h.AddVeth("veth0", "veth1", 0))
	check(t, h.SetMaster("veth0", "br0"))
	check(t, h.SetMTU("veth1", 1280))
	check(t, h.SetUp("br0"))
	check(t, h.AddAddr("br0", mustIPNet(t, "10.89.0.1/16")))
	check(t, h.AddAddr("veth1", mustIPNet(t, "172.30.0.5/30")))
	if hasIPv6() {
		check(t, h.AddAddr("br0", mustIPNet(t, "fd00:89::1/64")))
	}

	// ip runs in the test's namespace: os/exec forks from the locked thread.
	ipOut := func(args ...string) []string {
		out, err := exec.Command("ip", append([]string{"-o"}, args...)...).Output()
		if err != nil {
			t.Fatalf("ip %s: %v", strings.Join(args, " "), err)
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}

	// "4: veth0@veth1: <BROADCAST,MULTICAST,UP> mtu 1500 … master br0 … link/ether 6a:… brd …"
	links, err := h.Links()
	check(t, err)
	names := map[int]string{}
	var got, want []string
	for _, l := range links {
		names[l.Index] = l.Name
	}
	for _, l := range links {
		mac := l.HardwareAddr.String()
		if n := len(l.HardwareAddr); n == net.IPv4len || n == net.IPv6len {
			mac = net.IP(l.HardwareAddr).String() // tunnels (sit0, tunl0): ip prints an IP
		}
		got = append(got, fmt.Sprintf("%d %s mtu=%d up=%t master=%s mac=%s", l.Index, l.Name, l.MTU, l.Up, names[l.MasterIndex], mac))
	}
	for _, line := range ipOut("link") {
		f := strings.Fields(line)
		index, _ := strconv.Atoi(strings.TrimSuffix(f[0], ":"))
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		flags := strings.Split(strings.Trim(f[2], "<>"), ",")
		after := func(key string) string {
			if i := slices.Index(f, key); i >= 0 && i+1 < len(f) {
				return f[i+1]
			}
			return ""
		}
		mac := ""
		if i := slices.IndexFunc(f, func(s string) bool { return strings.HasPrefix(s, "link/") }); i >= 0 && f[i] != "link/none" {
			mac = after(f[i])
		}
		want = append(want, fmt.Sprintf("%d %s mtu=%s up=%t master=%s mac=%s", index, name, after("mtu"), slices.Contains(flags, "UP"), after("master"), mac))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("links:\ngot  %q\nwant %q (from ip -o link)", got, want)
	}

	// "3: br0    inet 10.89.0.1/16 brd 10.89.255.255 scope global br0 …"
	got, want = nil, nil
	for _, l := range links {
		addrs, err := h.Addrs(l.Name)
		check(t, err)
		for _, a := range addrs {
			got = append(got, l.Name+" "+a.String())
		}
	}
	for _, line := range ipOut("addr") {
		f := strings.Fields(line)
		want = append(want, f[1]+" "+f[3])
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("addresses:\ngot  %q\nwant %q (from ip -o addr)", got, want)
	}
	if !slices.Contains(got, "br0 10.89.0.1/16") {
		t.Errorf("addresses %q lack br0 10.89.0.1/16", got)
	}
	if line := ipOut("addr", "show", "dev", "br0", "to", "10.89.0.1/16"); !strings.Contains(line[0], "brd 10.89.255.255") {
		t.Errorf("ip -o addr shows %q, want the broadcast address brd 10.89.255.255", line)
	}
}

func TestOpenIn(t *testing.T) {
	if _, err := OpenIn("/nonexistent/ns/net"); !errors.Is(err, os.ErrNotExist) || !strings.Contains(fmt.Sprint(err), "/nonexistent/ns/net") {
		t.Errorf("OpenIn of a missing path: got %v, want os.ErrNotExist naming the path", err)
	}
	// setns checks the namespace type before privileges.
	if _, err := OpenIn("/proc/self/ns/mnt"); !errors.Is(err, unix.EINVAL) {
		t.Errorf("OpenIn of a mount namespace: got %v, want EINVAL", err)
	}

	h := newNetns(t)
	check(t, h.AddBridge("kiln0"))
	// The test's own namespace, through the path of its thread.
	h2, err := OpenIn(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	check(t, err)
	defer h2.Close()
	if l, err := h2.LinkByName("kiln0"); err != nil || l.Kind != "bridge" {
		t.Errorf("kiln0 through OpenIn: %+v, %v; want the bridge", l, err)
	}
}

func TestClose(t *testing.T) {
	h, err := Open()
	check(t, err)
	if _, err := h.LinkByName("lo"); err != nil {
		t.Errorf("lo: %v", err)
	}
	check(t, h.Close())
	if err := h.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second Close: got %v, want os.ErrClosed", err)
	}
	if _, err := h.Links(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Links after Close: got %v, want os.ErrClosed", err)
	}
}

// TestRecvWholeDatagram checks that recv reads a datagram larger than any
// fixed buffer whole, here over a socketpair, which needs no privileges.
func TestRecvWholeDatagram(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	check(t, err)
	defer unix.Close(fds[1])
	h := &Handle{fd: fds[0]}
	defer h.Close()
	want := bytes.Repeat([]byte("kiln"), 20<<10)
	for _, d := range [][]byte{want, []byte("next")} {
		_, err := unix.Write(fds[1], d)
		check(t, err)
	}
	for _, w := range [][]byte{want, []byte("next")} {
		got, err := h.recv()
		check(t, err)
		if !bytes.Equal(got, w) {
			t.Fatalf("recv: got %d bytes, want %d", len(got), len(w))
		}
	}
}

// vethRequest is what AddVeth sends for a peer in process 1234.
func vethRequest() *message {
	m := linkMessage(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL, unix.IfInfomsg{}, "veth0")
	info := m.begin(unix.IFLA_LINKINFO)
	m.attrString(unix.IFLA_INFO_KIND, "veth")
	data := m.begin(unix.IFLA_INFO_DATA)
	p := m.begin(vethInfoPeer)
	m.put(unix.IfInfomsg{})
	m.attrName(unix.IFLA_IFNAME, "eth0")
	m.attrUint32(unix.IFLA_NET_NS_PID, 1234)
	m.end(p)
	m.end(data)
	m.end(info)
	return m
}

func TestMessageRoundTrip(t *testing.T) {
	b := vethRequest().encode(unix.NLM_F_REQUEST|unix.NLM_F_ACK, 7)
	msgs, err := parseMessages(b)
	check(t, err)
	if len(msgs) != 1 || int(msgs[0].hdr.Len) != len(b) || len(b)%4 != 0 ||
		msgs[0].hdr.Type != unix.RTM_NEWLINK || msgs[0].hdr.Seq != 7 {
		t.Fatalf("parsed %+v from %d bytes, want one aligned RTM_NEWLINK of seq 7", msgs, len(b))
	}
	var ifi unix.IfInfomsg
	attrs, err := parseHeader(msgs[0].data, &ifi)
	check(t, err)
	info := parseAttrs(attrs[unix.IFLA_LINKINFO])
	peer := parseAttrs(info[unix.IFLA_INFO_DATA])[vethInfoPeer]
	peerAttrs, err := parseHeader(peer, &ifi)
	check(t, err)
	got := fmt.Sprintf("%s %s %s %d", getString(attrs[unix.IFLA_IFNAME]), getString(info[unix.IFLA_INFO_KIND]),
		getString(peerAttrs[unix.IFLA_IFNAME]), getUint32(peerAttrs[unix.IFLA_NET_NS_PID]))
	if want := "veth0 veth eth0 1234"; got != want {
		t.Errorf("round trip: got %q, want %q", got, want)
	}
}

// errorReply builds an NLMSG_ERROR or NLMSG_DONE with code and, when msg is
// not empty, an extended ack TLV after the (capped or whole) request.
func errorReply(typ uint16, code int32, capped bool, msg string) reply {
	req := vethRequest().encode(0, 1)
	m := &message{typ: typ}
	m.data = native.AppendUint32(nil, uint32(code))
	var flags uint16
	if typ == unix.NLMSG_ERROR {
		if capped {
			req = req[:unix.NLMSG_HDRLEN]
			flags |= unix.NLM_F_CAPPED
		}
		m.data = append(m.data, req...)
	}
	if msg != "" {
		flags |= unix.NLM_F_ACK_TLVS
		m.attrString(unix.NLMSGERR_ATTR_MSG, msg)
	}
	msgs, _ := parseMessages(m.encode(flags, 1))
	return msgs[0]
}

func TestParseError(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    reply
		want string // "" for nil
		is   []error
	}{
		{"ack", errorReply(unix.NLMSG_ERROR, 0, true, ""), "", nil},
		{"done", errorReply(unix.NLMSG_DONE, 0, false, ""), "", nil},
		{"exists", errorReply(unix.NLMSG_ERROR, -int32(unix.EEXIST), true, ""), "file exists", []error{os.ErrExist, unix.EEXIST}},
		{"no device", errorReply(unix.NLMSG_ERROR, -int32(unix.ENODEV), true, ""), "no such device", []error{os.ErrNotExist, unix.ENODEV}},
		{"ext ack capped", errorReply(unix.NLMSG_ERROR, -int32(unix.EOPNOTSUPP), true, "Unknown device type"),
			"operation not supported (Unknown device type)", []error{unix.EOPNOTSUPP}},
		{"ext ack whole request", errorReply(unix.NLMSG_ERROR, -int32(unix.EINVAL), false, "Invalid prefix"),
			"invalid argument (Invalid prefix)", []error{unix.EINVAL}},
		{"dump failed", errorReply(unix.NLMSG_DONE, -int32(unix.EINTR), false, ""), "interrupted system call", []error{unix.EINTR}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := parseError(tc.r)
			if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			for _, target := range tc.is {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = false", err, target)
				}
			}
		})
	}
}

// FuzzParse feeds arbitrary datagrams to the parsers: they must not panic,
// and every message they find must lie within the datagram.
func FuzzParse(f *testing.F) {
	f.Add(vethRequest().encode(0, 1))
	f.Add(errorReply(unix.NLMSG_ERROR, -int32(unix.EINVAL), false, "Invalid prefix").data)
	f.Add(newMessage(unix.RTM_NEWROUTE, 0, unix.RtMsg{Dst_len: 16}).encode(0, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, err := parseMessages(b)
		if err != nil {
			return
		}
		total := 0
		for _, r := range msgs {
			if int(r.hdr.Len) != unix.NLMSG_HDRLEN+len(r.data) {
				t.Fatalf("message of length %d has a %d-byte payload", r.hdr.Len, len(r.data))
			}
			total += align(int(r.hdr.Len))
			parseLink(r.data)
			parseHeader(r.data, &unix.RtMsg{})
			parseError(r)
		}
		if total > align(len(b)) {
			t.Fatalf("messages cover %d bytes of %d", total, len(b))
		}
	})
}
