package e2e

import (
	"strings"
	"testing"
)

// --add-host, --dns and --dns-search shape the container's /etc/hosts and
// /etc/resolv.conf, as Docker's do, and survive a restart of a kept
// container; bad values are refused naming the flag.
func TestRunNames(t *testing.T) {
	root := newContainerRoot(t)
	out, _ := mustKiln(t, root, "run", "--name", "n", "--add-host", "db:10.0.0.5", "--dns", "9.9.9.9",
		"--dns-search", "example.org", "busybox", "sh", "-c", "cat /etc/hosts /etc/resolv.conf")
	for _, want := range []string{"10.0.0.5\tdb\n", "nameserver 9.9.9.9\n", "search example.org\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("run with --add-host/--dns/--dns-search: got %q, want a line %q", out, want)
		}
	}
	out, _ = mustKiln(t, root, "start", "-a", "n")
	if !strings.Contains(out, "10.0.0.5\tdb\n") {
		t.Errorf("start -a of the kept container: got %q, want the --add-host line again", out)
	}
	for _, c := range []struct{ flag, value string }{{"--add-host", "nocolon"}, {"--dns", "dns.example"}} {
		_, errOut, code := kiln(t, root, "run", "--rm", c.flag, c.value, "busybox", "true")
		if code != 125 || !strings.Contains(errOut, c.flag) {
			t.Errorf("run %s %s: got exit %d, stderr %q; want 125 and an error naming %s", c.flag, c.value, code, errOut, c.flag)
		}
	}
}
