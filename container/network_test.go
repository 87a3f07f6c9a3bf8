package container

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNetworkStore(t *testing.T) {
	s, err := OpenNetworks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Create("a", NetworkOptions{Subnet: "10.200.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Gateway != "10.200.0.1" || a.Bridge != "kiln-"+a.ID[:10] || len(a.Bridge) > 15 {
		t.Errorf("Create: got gateway %s, bridge %s", a.Gateway, a.Bridge)
	}
	for _, c := range []struct {
		name string
		o    NetworkOptions
		want string
	}{
		{"a", NetworkOptions{Subnet: "10.201.0.0/24"}, "already exists"},
		{"b", NetworkOptions{Subnet: "10.200.0.128/25"}, "overlaps network a"},
		{"b", NetworkOptions{Subnet: "10.202.0.0/24", Gateway: "10.9.9.9"}, "--gateway"},
		{"host", NetworkOptions{}, "pre-defined"},
		{"bad name", NetworkOptions{}, "invalid network name"},
	} {
		if _, err := s.Create(c.name, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Create(%q, %+v): got %v, want an error saying %q", c.name, c.o, err, c.want)
		}
	}
	// A name that happens to be a prefix of another network's ID is free.
	if _, err := s.Create(a.ID[:4], NetworkOptions{Subnet: "10.203.0.0/24"}); err != nil {
		t.Errorf("Create named like a prefix of a's ID: %v", err)
	}
	if n, err := s.Get(a.ID[:6]); err != nil || n.Name != "a" {
		t.Errorf("Get by ID prefix: got %v, %v", n, err)
	}
	if _, err := s.Get("nosuch"); !errors.Is(err, ErrNoNetwork) {
		t.Errorf("Get(nosuch): got %v, want ErrNoNetwork", err)
	}
	for _, name := range []string{"bridge", "host", "none"} {
		if err := s.Remove(name); err == nil || !strings.Contains(err.Error(), "pre-defined") {
			t.Errorf("Remove(%s): got %v, want refused", name, err)
		}
	}
}

// An endpoint whose process is gone is stale: it is forgotten and its
// address given out again; a live one stays and blocks removal.
func TestNetworkEndpointsStale(t *testing.T) {
	s, err := OpenNetworks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Create("a", NetworkOptions{Subnet: "10.210.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	self, err := ProcessStartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.dir, n.ID, "endpoints")
	live := Endpoint{Container: strings.Repeat("a", 64), Name: "live", IP: "10.210.0.2", Pid: os.Getpid(), StartTime: self}
	dead := Endpoint{Container: strings.Repeat("b", 64), Name: "dead", IP: "10.210.0.3", Pid: os.Getpid(), StartTime: self + 1}
	for _, e := range []Endpoint{live, dead} {
		if err := writeJSON(filepath.Join(dir, e.Container+".json"), e); err != nil {
			t.Fatal(err)
		}
	}
	eps, err := s.Endpoints(n)
	if err != nil || len(eps) != 1 || eps[0].Name != "live" {
		t.Fatalf("Endpoints: got %v, %v; want only the live one", eps, err)
	}
	if _, err := os.Stat(filepath.Join(dir, dead.Container+".json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stale endpoint's record: got %v, want it removed", err)
	}
	if err := s.Remove("a"); err == nil || !strings.Contains(err.Error(), "active endpoints (live)") {
		t.Errorf("Remove with a live endpoint: got %v, want refused naming it", err)
	}
}

// Hosts files are rewritten in place with every container on a user
// network, and left alone beyond the base on the default bridge.
func TestNetworkRefreshHosts(t *testing.T) {
	dir := t.TempDir()
	var eps []*Endpoint
	for i, name := range []string{"web", "db"} {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		id := strings.Repeat(string(rune('1'+i)), 64)
		eps = append(eps, &Endpoint{Container: id, Name: name, IP: "10.0.0." + string(rune('2'+i)), HostsFile: f, HostsBase: "base-" + name + "\n"})
	}
	eps[1].Aliases = []string{"database"}
	s := &NetworkStore{}
	s.refreshHosts(&Network{Name: "user"}, eps)
	b, _ := os.ReadFile(eps[0].HostsFile)
	want := "base-web\n10.0.0.2\tweb " + strings.Repeat("1", 12) + "\n10.0.0.3\tdb database " + strings.Repeat("2", 12) + "\n"
	if string(b) != want {
		t.Errorf("hosts of web on a user network: got %q, want %q", b, want)
	}
	s.refreshHosts(&Network{Name: DefaultNetwork}, eps)
	if b, _ := os.ReadFile(eps[1].HostsFile); string(b) != "base-db\n" {
		t.Errorf("hosts of db on the default bridge: got %q, want only its base", b)
	}
}
