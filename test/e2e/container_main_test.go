package e2e

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// newContainerRoot is newBusyboxRoot whose containers are all removed (with
// rm -f, so their processes and supervisors end) when the test ends.
func newContainerRoot(t *testing.T) string {
	t.Helper()
	root := newBusyboxRoot(t)
	t.Cleanup(func() {
		out, _, _ := kiln(t, root, "ps", "-aq", "--no-trunc")
		for _, id := range strings.Fields(out) {
			kiln(t, root, "rm", "-f", id)
		}
	})
	return root
}

// runDetached starts a container with run -d and returns its ID.
func runDetached(t *testing.T, root string, args ...string) string {
	t.Helper()
	out, _ := mustKiln(t, root, append([]string{"run", "-d"}, args...)...)
	id := strings.TrimSpace(out)
	if len(id) != 64 {
		t.Fatalf("kiln run -d %s: got %q, want a 64-digit container ID", strings.Join(args, " "), out)
	}
	return id
}

// ctrState is the part of kiln inspect on a container the tests read.
type ctrState struct {
	ID    string `json:"Id"`
	Name  string
	State struct {
		Status   string
		Running  bool
		Paused   bool
		Pid      int
		ExitCode int
	}
	RestartCount int
}

func inspectCtr(t *testing.T, root, ref string) ctrState {
	t.Helper()
	out, _ := mustKiln(t, root, "inspect", ref)
	var s ctrState
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("kiln inspect %s: %v\n%s", ref, err, out)
	}
	return s
}

// eventually polls cond every 50ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not so after %v", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// psRow returns the ps -a line of the container named name ("" if none).
func psRow(t *testing.T, root, name string) string {
	t.Helper()
	out, _ := mustKiln(t, root, "ps", "-a")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[len(f)-1] == name {
			return line
		}
	}
	return ""
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// parentPid reads the parent of pid from /proc.
func parentPid(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatal(err)
	}
	return ppid
}
