package executor

import (
	"errors"
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	n := Names{ExtraHosts: []string{"db:10.0.0.5", "v6:fd00::1"}, DNS: []string{"9.9.9.9"}, DNSSearch: []string{"a.example", "b.example"}}
	if err := n.Validate(); err != nil {
		t.Fatal(err)
	}
	hosts := n.Hosts("box", "")
	for _, want := range []string{"127.0.0.1\tbox\n", "10.0.0.5\tdb\n", "fd00::1\tv6\n"} {
		if !strings.Contains(hosts, want) {
			t.Errorf("hosts: got %q, want a line %q", hosts, want)
		}
	}
	got := n.resolv("nameserver 192.168.1.1\nsearch lan\noptions ndots:2\n")
	if want := "options ndots:2\nnameserver 9.9.9.9\nsearch a.example b.example\n"; got != want {
		t.Errorf("resolv: got %q, want %q", got, want)
	}
	if got := (Names{}).resolv("nameserver 1.1.1.1\n"); got != "nameserver 1.1.1.1\n" {
		t.Errorf("resolv without settings: got %q, want the file unchanged", got)
	}
	for _, bad := range []Names{
		{ExtraHosts: []string{"nocolon"}},
		{ExtraHosts: []string{"db:not-an-ip"}},
		{ExtraHosts: []string{":10.0.0.1"}},
		{DNS: []string{"dns.example"}},
		{DNSSearch: []string{"two words"}},
	} {
		if err := bad.Validate(); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("Validate(%+v): got %v, want ErrInvalidSpec", bad, err)
		}
	}
}
