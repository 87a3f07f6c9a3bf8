package executor

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeviceCgroupRules: the devices cgroup allows what Docker's rules
// allow, and nothing else.
func TestDeviceCgroupRules(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making cgroups needs root")
	}
	g, err := newDeviceCgroup()
	if err != nil {
		t.Fatal(err)
	}
	if g == nil {
		t.Skip("no cgroup v1 devices controller here")
	}
	b, err := os.ReadFile(filepath.Join(g.dir, "devices.list"))
	g.remove()
	if err != nil {
		t.Fatal(err)
	}
	want := "c *:* m\nb *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\n" +
		"c 5:0 rwm\nc 5:1 rwm\nc 5:2 rwm\nc 136:* rwm\nc 10:200 rwm\n"
	if got := string(b); got != want {
		t.Errorf("devices.list: got\n%s\nwant\n%s", got, want)
	}
	if !strings.HasPrefix(g.dir, devicesController().Path("/kiln-")) {
		t.Errorf("cgroup %s: want it under %s", g.dir, devicesController().Path("/"))
	}
	if _, err := os.Stat(g.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s after remove: got %v, want it gone", g.dir, err)
	}
}
