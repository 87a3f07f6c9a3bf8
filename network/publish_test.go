package network

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
)

func TestParsePublish(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // the bindings' String()s, HostPort 0 where to be picked
	}{
		{"80", "0.0.0.0:0->80/tcp"},
		{"8080:80", "0.0.0.0:8080->80/tcp"},
		{"127.0.0.1:8080:80/udp", "127.0.0.1:8080->80/udp"},
		{"127.0.0.1::80", "127.0.0.1:0->80/tcp"},
		{"[::1]:8080:80", "[::1]:8080->80/tcp"},
		{"8000-8001:80-81", "0.0.0.0:8000->80/tcp 0.0.0.0:8001->81/tcp"},
		{"53/udp", "0.0.0.0:0->53/udp"},
	} {
		got, err := ParsePublish(c.in)
		if err != nil {
			t.Errorf("ParsePublish(%q): %v", c.in, err)
			continue
		}
		var s []string
		for _, b := range got {
			s = append(s, b.String())
		}
		if strings.Join(s, " ") != c.want {
			t.Errorf("ParsePublish(%q): got %q, want %q", c.in, strings.Join(s, " "), c.want)
		}
	}
	for _, bad := range []string{"", "x", "0", "70000", "80/sctp", "1.2.3:80:80", "a:b:c:d", "8000-8002:80-81", "90-80", "[::1:80:80", "[::1]:80"} {
		if _, err := ParsePublish(bad); err == nil || !strings.Contains(err.Error(), "-p") {
			t.Errorf("ParsePublish(%q): got %v, want an error naming -p", bad, err)
		}
	}
}

// TestPublisherTCP proxies to a loopback server standing in for the
// container: the answer comes back, the client's end of input reaches the
// server, and without a target connections are refused.
func TestPublisherTCP(t *testing.T) {
	srv, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		for {
			c, err := srv.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, _ := io.ReadAll(c) // until the client half-closes
				fmt.Fprintf(c, "got %d bytes", len(b))
			}()
		}
	}()
	srvPort := srv.Addr().(*net.TCPAddr).Port
	pub, ports, err := Publish([]PortBinding{{HostIP: "127.0.0.1", ContainerPort: srvPort, Proto: "tcp"}})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if ports[0].HostPort == 0 {
		t.Fatalf("Publish: got host port 0, want the one picked")
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0].HostPort)

	ask := func() (string, error) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return "", err
		}
		defer c.Close()
		if _, err := c.Write([]byte("hello")); err != nil {
			return "", err
		}
		_ = c.(*net.TCPConn).CloseWrite()
		b, err := io.ReadAll(bufio.NewReader(c))
		return string(b), err
	}
	if got, _ := ask(); got != "" {
		t.Errorf("without a target: got %q, want the connection closed", got)
	}
	pub.SetTarget(net.ParseIP("127.0.0.1"))
	if got, err := ask(); got != "got 5 bytes" {
		t.Errorf("through the proxy: got %q (%v), want %q", got, err, "got 5 bytes")
	}
	if _, _, err := Publish([]PortBinding{{HostIP: "127.0.0.1", HostPort: ports[0].HostPort, ContainerPort: 1, Proto: "tcp"}}); err == nil {
		t.Errorf("publishing a port in use: got no error")
	}
}

func TestPublisherUDP(t *testing.T) {
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		b := make([]byte, 100)
		for {
			n, from, err := srv.ReadFromUDP(b)
			if err != nil {
				return
			}
			_, _ = srv.WriteToUDP([]byte(strings.ToUpper(string(b[:n]))), from)
		}
	}()
	pub, ports, err := Publish([]PortBinding{{HostIP: "127.0.0.1", ContainerPort: srv.LocalAddr().(*net.UDPAddr).Port, Proto: "udp"}})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	pub.SetTarget(net.ParseIP("127.0.0.1"))
	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", ports[0].HostPort))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 100)
	n, err := c.Read(b)
	if err != nil || string(b[:n]) != "PING" {
		t.Errorf("UDP through the proxy: got %q, %v; want PING", b[:n], err)
	}
}
