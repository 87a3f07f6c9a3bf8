package network

import (
	"net"
	"testing"
)

func cidr(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestFreeSubnet(t *testing.T) {
	got, err := FreeSubnet([]*net.IPNet{cidr(t, "172.17.5.0/24"), cidr(t, "172.18.0.0/16"), cidr(t, "10.0.0.0/8")})
	if err != nil || got.String() != "172.19.0.0/16" {
		t.Errorf("FreeSubnet past 172.17 and 172.18: got %v, %v; want 172.19.0.0/16", got, err)
	}
	// A host route covering all of 172.16/12 moves on to 192.168.
	got, err = FreeSubnet([]*net.IPNet{cidr(t, "172.16.0.0/12"), cidr(t, "192.168.0.0/24")})
	if err != nil || got.String() != "192.168.16.0/20" {
		t.Errorf("FreeSubnet past 172.16/12 and 192.168.0/24: got %v, %v; want 192.168.16.0/20", got, err)
	}
	if _, err := FreeSubnet([]*net.IPNet{cidr(t, "0.0.0.0/1"), cidr(t, "128.0.0.0/1")}); err == nil {
		t.Errorf("FreeSubnet with everything routed: got no error")
	}
}

func TestNextIP(t *testing.T) {
	sn := cidr(t, "10.1.0.0/30") // .1 gateway, .2 the only host
	gw := Gateway(sn)
	if gw.String() != "10.1.0.1" {
		t.Fatalf("Gateway: got %s", gw)
	}
	ip, err := NextIP(sn, gw, map[string]bool{})
	if err != nil || ip.String() != "10.1.0.2" {
		t.Errorf("NextIP: got %v, %v; want 10.1.0.2", ip, err)
	}
	if ip, err := NextIP(sn, gw, map[string]bool{"10.1.0.2": true}); err == nil {
		t.Errorf("NextIP on a full /30: got %v, want an error (broadcast is not a host)", ip)
	}
	if MAC(net.ParseIP("172.17.0.2")).String() != "02:42:ac:11:00:02" {
		t.Errorf("MAC: got %s, want Docker's 02:42:ac:11:00:02", MAC(net.ParseIP("172.17.0.2")))
	}
}

func TestParseSubnet(t *testing.T) {
	if n, err := ParseSubnet("10.5.0.7/16"); err != nil || n.String() != "10.5.0.0/16" {
		t.Errorf("ParseSubnet: got %v, %v", n, err)
	}
	for _, bad := range []string{"10.5.0.0", "fd00::/64", "10.0.0.0/31", "x/8"} {
		if _, err := ParseSubnet(bad); err == nil {
			t.Errorf("ParseSubnet(%q): got no error", bad)
		}
	}
}
