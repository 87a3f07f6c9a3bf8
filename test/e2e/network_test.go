package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/netlink"
)

// httpdArgs serves /www/index.html, holding body, on port 8080.
func httpdArgs(body string) []string {
	return []string{"busybox", "sh", "-c", "mkdir -p /www && echo " + body + " > /www/index.html && exec httpd -f -p 8080 -h /www"}
}

// netSettings is the part of kiln inspect's NetworkSettings the tests read.
type netSettings struct {
	NetworkSettings struct {
		IPAddress string
		Gateway   string
		Networks  map[string]struct{ IPAddress string }
	}
}

func containerIP(t *testing.T, root, ref string) string {
	t.Helper()
	out, _ := mustKiln(t, root, "inspect", ref)
	var s netSettings
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("kiln inspect %s: %v\n%s", ref, err, out)
	}
	if net.ParseIP(s.NetworkSettings.IPAddress) == nil {
		t.Fatalf("kiln inspect %s: got IPAddress %q, want an address\n%s", ref, s.NetworkSettings.IPAddress, out)
	}
	return s.NetworkSettings.IPAddress
}

// hostLinks names the interfaces of the tests' network namespace (its
// /sys is the host's, so netlink asks).
func hostLinks(t *testing.T) []string {
	t.Helper()
	h, err := netlink.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	links, err := h.Links()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range links {
		out = append(out, l.Name)
	}
	return out
}

// A container on the default network gets eth0 with an address of the
// kiln0 bridge's subnet, a default route through its gateway, its own
// address for its host name; its veth is gone once it exits.
func TestNetworkDefaultBridge(t *testing.T) {
	root := newContainerRoot(t)
	out, _ := mustKiln(t, root, "run", "--rm", "--hostname", "box", "busybox", "sh", "-c",
		"ip -o -4 addr show eth0; ip route; cat /etc/hosts")
	m := regexp.MustCompile(`inet (\d+\.\d+\.\d+\.\d+)/(\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("run: got %q, want eth0 with an IPv4 address", out)
	}
	ip := net.ParseIP(m[1])
	if !strings.Contains(out, "default via ") || !strings.Contains(out, m[1]+"\tbox\n") {
		t.Errorf("run: got %q, want a default route and a hosts line %q", out, m[1]+"\tbox")
	}
	h, err := netlink.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	addrs, err := h.Addrs("kiln0")
	if err != nil {
		t.Fatalf("bridge kiln0: %v", err)
	}
	if len(addrs) == 0 || !addrs[0].Contains(ip) {
		t.Errorf("bridge kiln0 has %v, want the subnet of the container's %s", addrs, ip)
	}
	// The kernel removes the veth pair with the namespace, in the background.
	eventually(t, 10*time.Second, "no veth left after the container exited", func() bool {
		for _, l := range hostLinks(t) {
			if strings.HasPrefix(l, "veth") {
				return false
			}
		}
		return true
	})

	// Two containers: distinct addresses, and one reaches the other by it.
	runDetached(t, root, append([]string{"--name", "web"}, httpdArgs("hello-by-ip")...)...)
	webIP := containerIP(t, root, "web")
	out, _ = mustKiln(t, root, "run", "--rm", "busybox", "sh", "-c",
		"ip -o -4 addr show eth0; for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O- http://"+webIP+":8080/ && exit 0; sleep 0.2; done; exit 1")
	if !strings.Contains(out, "hello-by-ip") || strings.Contains(out, "inet "+webIP+"/") {
		t.Errorf("wget from a second container to %s: got %q, want the page from another address", webIP, out)
	}
	// Docker's default bridge resolves no names; neither does kiln's.
	if _, _, code := kiln(t, root, "run", "--rm", "busybox", "nc", "-w", "1", "web", "8080"); code == 0 {
		t.Errorf("nc web 8080 on the default bridge: got exit 0, want the name unknown")
	}
}

// The check: two containers on one user network reach each other
// by name over TCP, also by alias, and a container started later is known
// to one started earlier.
func TestNetworkUserNetworkNames(t *testing.T) {
	root := newContainerRoot(t)
	out, _ := mustKiln(t, root, "network", "create", "appnet")
	if len(strings.TrimSpace(out)) != 64 {
		t.Fatalf("network create: got %q, want an ID", out)
	}
	runDetached(t, root, append([]string{"--name", "server", "--network", "appnet", "--network-alias", "db"}, httpdArgs("hello-from-server")...)...)
	for _, name := range []string{"server", "db"} {
		out, _ = mustKiln(t, root, "run", "--rm", "--network", "appnet", "busybox", "sh", "-c",
			"for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O- http://"+name+":8080/ && exit 0; sleep 0.2; done; exit 1")
		if strings.TrimSpace(out) != "hello-from-server" {
			t.Errorf("wget http://%s:8080/ from another container on appnet: got %q, want hello-from-server", name, out)
		}
	}
	// TCP both ways: the later container is in the earlier one's hosts.
	runDetached(t, root, "--name", "late", "--network", "appnet", "busybox", "nc", "-ll", "-p", "9000", "-e", "echo", "late-says-hi")
	out, _ = mustKiln(t, root, "exec", "server", "sh", "-c",
		"for i in 1 2 3 4 5 6 7 8 9 10; do nc late 9000 </dev/null && exit 0; sleep 0.2; done; exit 1")
	if strings.TrimSpace(out) != "late-says-hi" {
		t.Errorf("nc late 9000 from server: got %q, want late-says-hi", out)
	}
	out, _ = mustKiln(t, root, "network", "inspect", "appnet")
	for _, want := range []string{`"Name": "server"`, `"Name": "late"`, `"Subnet"`} {
		if !strings.Contains(out, want) {
			t.Errorf("network inspect appnet: got %s, want %s", out, want)
		}
	}
}

// -p publishes a container port on 127.0.0.1: HTTP gets through, ps and
// port show it, a port in use is refused, and rm frees it.
func TestNetworkPublish(t *testing.T) {
	root := newContainerRoot(t)
	port := freePort(t)
	runDetached(t, root, append([]string{"--name", "pub", "-p", fmt.Sprintf("127.0.0.1:%d:8080", port)}, httpdArgs("hello-published")...)...)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	var body string
	eventually(t, 10*time.Second, "GET "+url, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == 200
	})
	if strings.TrimSpace(body) != "hello-published" {
		t.Errorf("GET %s: got %q, want hello-published", url, body)
	}
	mapping := fmt.Sprintf("127.0.0.1:%d->8080/tcp", port)
	if row := psRow(t, root, "pub"); !strings.Contains(row, mapping) {
		t.Errorf("ps: got %q, want PORTS %s", row, mapping)
	}
	if out, _ := mustKiln(t, root, "port", "pub"); strings.TrimSpace(out) != fmt.Sprintf("8080/tcp -> 127.0.0.1:%d", port) {
		t.Errorf("port pub: got %q", out)
	}
	// A restart publishes the port again, to the new run of the container.
	mustKiln(t, root, "restart", "-t", "1", "pub")
	eventually(t, 10*time.Second, "GET "+url+" after restart", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	_, errOut, code := kiln(t, root, append([]string{"run", "-d", "-p", fmt.Sprintf("127.0.0.1:%d:8080", port)}, httpdArgs("x")...)...)
	if code != 125 || !strings.Contains(errOut, "address already in use") {
		t.Errorf("a second -p on the same port: got exit %d, stderr %q; want 125 and address already in use", code, errOut)
	}
	// A free host port is picked for -p CONTAINER_PORT.
	runDetached(t, root, append([]string{"--name", "any", "-p", "8080"}, httpdArgs("hello-any")...)...)
	out, _ := mustKiln(t, root, "port", "any", "8080/tcp")
	if !regexp.MustCompile(`^0\.0\.0\.0:\d+\n$`).MatchString(out) {
		t.Errorf("port any 8080/tcp: got %q, want 0.0.0.0:PORT", out)
	}
	mustKiln(t, root, "rm", "-f", "pub")
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Errorf("after rm -f: port %d still taken: %v", port, err)
	} else {
		l.Close()
	}
}

// Containers leave the host through NAT: a server in another network
// namespace, reachable only from the host's address on a link of its own,
// sees the host's address, not the container's, and can answer it.
func TestNetworkOutboundNAT(t *testing.T) {
	root := newContainerRoot(t)
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("iptables is not installed (apt-get install iptables; make deps does): no NAT to test")
	}
	outside := exec.Command("sleep", "300")
	outside.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := outside.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = outside.Process.Kill(); _ = outside.Wait() }()
	ns := fmt.Sprintf("/proc/%d/ns/net", outside.Process.Pid)
	h, err := netlink.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.AddVeth("natout", "natin", outside.Process.Pid))
	defer func() { _ = h.DeleteLink("natout") }()
	must(h.AddAddr("natout", &net.IPNet{IP: net.IPv4(192, 0, 2, 1).To4(), Mask: net.CIDRMask(24, 32)}))
	must(h.SetUp("natout"))
	in, err := netlink.OpenIn(ns)
	must(err)
	defer in.Close()
	must(in.AddAddr("natin", &net.IPNet{IP: net.IPv4(192, 0, 2, 2).To4(), Mask: net.CIDRMask(24, 32)}))
	must(in.SetUp("natin"))
	must(in.SetUp("lo"))

	l := listenIn(t, ns, "192.0.2.2:9000")
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "you are %s\n", c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	}()
	out, _ := mustKiln(t, root, "run", "--rm", "busybox", "sh", "-c",
		"ip -o -4 addr show eth0; nc -w 5 192.0.2.2 9000 </dev/null")
	if !strings.Contains(out, "you are 192.0.2.1\n") {
		t.Errorf("a container's connection out of the host: got %q, want the server to see the host's 192.0.2.1", out)
	}
}

// listenIn listens on addr in the network namespace at nsPath, from a
// thread that enters it and is never given back to other goroutines.
func listenIn(t *testing.T, nsPath, addr string) net.Listener {
	t.Helper()
	type result struct {
		l   net.Listener
		err error
	}
	ch := make(chan result)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with us
		f, err := os.Open(nsPath)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: err}
			return
		}
		l, err := net.Listen("tcp", addr)
		ch <- result{l, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, nsPath, r.err)
	}
	return r.l
}

// Containers on different user networks cannot reach each other; on the
// same one they can.
func TestNetworkIsolation(t *testing.T) {
	root := newContainerRoot(t)
	mustKiln(t, root, "network", "create", "neta")
	mustKiln(t, root, "network", "create", "--subnet", "10.123.0.0/24", "netb")
	runDetached(t, root, append([]string{"--name", "a", "--network", "neta"}, httpdArgs("in-a")...)...)
	ip := containerIP(t, root, "a")
	// busybox's wget -T crashes; nc -w bounds the connect.
	get := "for i in 1 2 3 4 5; do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 1 " + ip + " 8080 && exit 0; sleep 0.2; done; exit 1"
	if out, _ := mustKiln(t, root, "run", "--rm", "--network", "neta", "busybox", "sh", "-c", get); !strings.Contains(out, "in-a") {
		t.Fatalf("from neta: got %q, want in-a", out)
	}
	out, _, code := kiln(t, root, "run", "--rm", "--network", "netb", "busybox", "sh", "-c", "ip -o -4 addr show eth0; "+get)
	if code == 0 || !strings.Contains(out, "10.123.0.") {
		t.Errorf("from netb (10.123.0.0/24): got exit %d, %q; want no way to a on neta", code, out)
	}
}

// network ls, inspect and rm behave as Docker's: predefined networks stay,
// a network with a running container stays, then goes with its bridge.
func TestNetworkLsRm(t *testing.T) {
	root := newContainerRoot(t)
	mustKiln(t, root, "network", "create", "tmpnet")
	_, errOut, code := kiln(t, root, "network", "create", "tmpnet")
	if code == 0 || !strings.Contains(errOut, "already exists") {
		t.Errorf("network create of an existing name: got exit %d, %q", code, errOut)
	}
	out, _ := mustKiln(t, root, "network", "ls")
	for _, n := range []string{"bridge", "host", "none", "tmpnet"} {
		if !regexp.MustCompile(`\s` + n + `\s`).MatchString(out) {
			t.Errorf("network ls: got\n%s\nwant %s", out, n)
		}
	}
	runDetached(t, root, "--name", "user", "--network", "tmpnet", "busybox", "sleep", "60")
	var nets []struct {
		ID string `json:"Id"`
	}
	out, _ = mustKiln(t, root, "network", "inspect", "tmpnet")
	if err := json.Unmarshal([]byte(out), &nets); err != nil || len(nets) != 1 {
		t.Fatalf("network inspect: %v\n%s", err, out)
	}
	bridge := "kiln-" + nets[0].ID[:10]
	h, err := netlink.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := h.LinkByName(bridge); err != nil {
		t.Errorf("with a container on tmpnet: bridge %s: %v", bridge, err)
	}
	if _, errOut, code := kiln(t, root, "network", "rm", "tmpnet"); code == 0 || !strings.Contains(errOut, "active endpoints") {
		t.Errorf("network rm with a running container: got exit %d, %q; want refused", code, errOut)
	}
	for _, n := range []string{"bridge", "host", "none"} {
		if _, errOut, code := kiln(t, root, "network", "rm", n); code == 0 || !strings.Contains(errOut, "pre-defined") {
			t.Errorf("network rm %s: got exit %d, %q; want refused", n, code, errOut)
		}
	}
	mustKiln(t, root, "network", "create", "unused")
	out, _ = mustKiln(t, root, "network", "prune", "-f")
	if out != "Deleted Networks:\nunused\n" {
		t.Errorf("network prune -f with tmpnet in use: got %q, want only unused removed", out)
	}
	mustKiln(t, root, "rm", "-f", "user")
	mustKiln(t, root, "network", "rm", "tmpnet")
	if _, err := h.LinkByName(bridge); err == nil {
		t.Errorf("after network rm: bridge %s still there", bridge)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--rm", "--network", "nosuch", "busybox", "true"}, "--network"},
		{[]string{"run", "--rm", "-p", "99999:80", "busybox", "true"}, "-p"},
		{[]string{"run", "--rm", "--network-alias", "x", "busybox", "true"}, "--network-alias"},
		{[]string{"network", "create", "--subnet", "10.0.0.0/33", "bad"}, "--subnet"},
		{[]string{"network", "rm", "nosuch"}, "no such network"},
	} {
		_, errOut, code := kiln(t, root, c.args...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("kiln %s: got exit %d, %q; want an error naming %s", strings.Join(c.args, " "), code, errOut, c.want)
		}
	}
}

// Without iptables a bridged container still runs, on its network, and
// kiln says that it cannot reach outside.
func TestNetworkWithoutIptables(t *testing.T) {
	root := newContainerRoot(t)
	ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
	defer cancel()
	cmd := kilnCommand(ctx, root, "run", "--rm", "busybox", "ip", "-o", "-4", "addr", "show", "eth0")
	// No sbin on the path: no iptables to find.
	cmd.Env = append(withoutEnv(cmd.Env, "PATH"), "PATH=/nonexistent")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("run without iptables: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "inet ") {
		t.Errorf("run without iptables: got %q, want eth0 with an address", out.String())
	}
	if !strings.Contains(errOut.String(), "WARNING") || !strings.Contains(errOut.String(), "iptables") {
		t.Errorf("run without iptables: got stderr %q, want a warning naming iptables", errOut.String())
	}
}
