package network

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PortBinding is one published port: HostIP:HostPort on the host forwards
// to ContainerPort of the container. HostPort 0 asks for a free port;
// once published, it holds the one picked.
type PortBinding struct {
	HostIP        string `json:",omitempty"` // "" is every address (0.0.0.0)
	HostPort      int
	ContainerPort int
	Proto         string // "tcp" or "udp"
}

// String is docker ps's form: 0.0.0.0:8080->80/tcp.
func (p PortBinding) String() string {
	return fmt.Sprintf("%s->%d/%s", p.HostAddr(), p.ContainerPort, p.Proto)
}

// HostAddr is the host side: 0.0.0.0:8080, [::1]:8080.
func (p PortBinding) HostAddr() string {
	ip := p.HostIP
	if ip == "" {
		ip = "0.0.0.0"
	}
	return net.JoinHostPort(ip, strconv.Itoa(p.HostPort))
}

// ParsePublish parses one -p value as Docker does:
// [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO], where the ports may be
// ranges of one length (8000-8001:80-81) and an empty HOST_PORT
// (127.0.0.1::80) asks for a free one.
func ParsePublish(s string) ([]PortBinding, error) {
	bad := func(why string) ([]PortBinding, error) {
		return nil, fmt.Errorf("-p %q: %s (want [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp])", s, why)
	}
	spec, proto, _ := strings.Cut(s, "/")
	switch proto {
	case "":
		proto = "tcp"
	case "tcp", "udp":
	default:
		return bad("unknown protocol " + proto)
	}
	var hostIP, hostPorts, ctrPorts string
	if strings.HasPrefix(spec, "[") {
		end := strings.Index(spec, "]:")
		if end < 0 {
			return bad("unterminated IPv6 address")
		}
		hostIP, spec = spec[1:end], spec[end+2:]
		hostPorts, ctrPorts, _ = strings.Cut(spec, ":")
		if !strings.Contains(spec, ":") {
			return bad("a host address needs a container port")
		}
	} else {
		parts := strings.Split(spec, ":")
		switch len(parts) {
		case 1:
			ctrPorts = parts[0]
		case 2:
			hostPorts, ctrPorts = parts[0], parts[1]
		case 3:
			hostIP, hostPorts, ctrPorts = parts[0], parts[1], parts[2]
		default:
			return bad("too many colons")
		}
	}
	if hostIP != "" && net.ParseIP(hostIP) == nil {
		return bad("invalid host address " + hostIP)
	}
	clo, chi, err := portRange(ctrPorts, false)
	if err != nil {
		return bad(err.Error())
	}
	hlo, hhi, err := portRange(hostPorts, true)
	if err != nil {
		return bad(err.Error())
	}
	if hostPorts != "" && hhi-hlo != chi-clo {
		return bad("the host and container port ranges differ in length")
	}
	var out []PortBinding
	for p := clo; p <= chi; p++ {
		b := PortBinding{HostIP: hostIP, ContainerPort: p, Proto: proto}
		if hostPorts != "" {
			b.HostPort = hlo + p - clo
		}
		out = append(out, b)
	}
	return out, nil
}

// portRange parses N or N-M; an empty s is 0-0 where empty is allowed.
func portRange(s string, empty bool) (lo, hi int, err error) {
	if s == "" {
		if empty {
			return 0, 0, nil
		}
		return 0, 0, errors.New("no container port")
	}
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = port(a); err != nil {
		return 0, 0, err
	}
	hi = lo
	if isRange {
		if hi, err = port(b); err != nil {
			return 0, 0, err
		}
		if hi < lo {
			return 0, 0, fmt.Errorf("invalid port range %s", s)
		}
	}
	return lo, hi, nil
}

func port(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	return n, nil
}

// Publisher serves published ports: a userland proxy, as Docker's
// docker-proxy, that accepts on the host and connects to the container's
// address. It lives in the container's supervisor and outlives restarts;
// SetTarget follows the container's address.
type Publisher struct {
	mu      sync.Mutex
	target  net.IP
	closers []io.Closer
	wg      sync.WaitGroup
}

// udpIdle is how long a UDP flow without traffic keeps its socket.
const udpIdle = 90 * time.Second

// Publish binds every port (all or none) and starts serving them. The
// bindings it returns hold the host ports picked for HostPort 0.
func Publish(ports []PortBinding) (*Publisher, []PortBinding, error) {
	p := &Publisher{}
	out := make([]PortBinding, len(ports))
	for i, b := range ports {
		addr := net.JoinHostPort(b.HostIP, strconv.Itoa(b.HostPort))
		switch b.Proto {
		case "udp":
			ua, err := net.ResolveUDPAddr("udp", addr)
			if err != nil {
				p.Close()
				return nil, nil, fmt.Errorf("publish %s: %w", b, err)
			}
			c, err := net.ListenUDP("udp", ua)
			if err != nil {
				p.Close()
				return nil, nil, fmt.Errorf("publish %d/udp: %w", b.ContainerPort, err)
			}
			b.HostPort = c.LocalAddr().(*net.UDPAddr).Port
			p.closers = append(p.closers, c)
			p.wg.Add(1)
			go p.serveUDP(c, b.ContainerPort)
		default:
			l, err := net.Listen("tcp", addr)
			if err != nil {
				p.Close()
				return nil, nil, fmt.Errorf("publish %d/tcp: %w", b.ContainerPort, err)
			}
			b.HostPort = l.Addr().(*net.TCPAddr).Port
			p.closers = append(p.closers, l)
			p.wg.Add(1)
			go p.serveTCP(l, b.ContainerPort)
		}
		out[i] = b
	}
	return p, out, nil
}

// SetTarget points the proxy at the container's address; nil refuses
// connections (the container is not running).
func (p *Publisher) SetTarget(ip net.IP) {
	p.mu.Lock()
	p.target = ip
	p.mu.Unlock()
}

func (p *Publisher) dest(port int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.target == nil {
		return ""
	}
	return net.JoinHostPort(p.target.String(), strconv.Itoa(port))
}

// Close stops serving and releases the ports.
func (p *Publisher) Close() {
	if p == nil {
		return
	}
	for _, c := range p.closers {
		c.Close()
	}
	p.wg.Wait()
}

func (p *Publisher) serveTCP(l net.Listener, port int) {
	defer p.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		go p.proxyTCP(c.(*net.TCPConn), port)
	}
}

func (p *Publisher) proxyTCP(c *net.TCPConn, port int) {
	defer c.Close()
	dest := p.dest(port)
	if dest == "" {
		return
	}
	up, err := net.DialTimeout("tcp", dest, 5*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{})
	go func() {
		pipe(up.(*net.TCPConn), c)
		close(done)
	}()
	pipe(c, up.(*net.TCPConn))
	<-done
}

// pipe copies from src to dst until src ends, then half-closes dst, so an
// end of input reaches the other side and answers still flow back.
func pipe(dst, src *net.TCPConn) {
	_, _ = io.Copy(dst, src)
	_ = dst.CloseWrite()
}

func (p *Publisher) serveUDP(c *net.UDPConn, port int) {
	defer p.wg.Done()
	var mu sync.Mutex
	flows := map[string]*net.UDPConn{}
	defer func() {
		mu.Lock()
		for _, f := range flows {
			f.Close()
		}
		mu.Unlock()
	}()
	buf := make([]byte, 65535)
	for {
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			return
		}
		mu.Lock()
		f := flows[from.String()]
		if f == nil {
			dest := p.dest(port)
			if dest == "" {
				mu.Unlock()
				continue
			}
			ua, err := net.ResolveUDPAddr("udp", dest)
			if err == nil {
				f, err = net.DialUDP("udp", nil, ua)
			}
			if err != nil {
				mu.Unlock()
				continue
			}
			flows[from.String()] = f
			go func(from *net.UDPAddr, f *net.UDPConn) {
				// Answers go back to the client until the flow idles.
				b := make([]byte, 65535)
				for {
					_ = f.SetReadDeadline(time.Now().Add(udpIdle))
					n, err := f.Read(b)
					if err != nil {
						break
					}
					_, _ = c.WriteToUDP(b[:n], from)
				}
				mu.Lock()
				delete(flows, from.String())
				mu.Unlock()
				f.Close()
			}(from, f)
		}
		mu.Unlock()
		_, _ = f.Write(buf[:n])
	}
}
