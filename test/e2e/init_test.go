package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// zombieChildren lists the zombies whose parent is pid.
func zombieChildren(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[0] == "Z" && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

// An orphan re-parented to PID 1 stays a zombie under a command that never
// waits (sleep), and is reaped under --init.
func TestInitReapsZombies(t *testing.T) {
	root := newContainerRoot(t)
	// The inner sh leaves "sleep 0.2" behind and exits: the orphan goes to
	// PID 1, which then becomes (exec) a sleep that never waits.
	script := `sh -c "sleep 0.2 &"; exec sleep 30`
	for _, c := range []struct {
		init    bool
		zombies bool
	}{{false, true}, {true, false}} {
		args := []string{"--name", "z" + strconv.FormatBool(c.init)}
		if c.init {
			args = append(args, "--init")
		}
		id := runDetached(t, root, append(args, "busybox", "sh", "-c", script)...)
		pid := inspectCtr(t, root, id).State.Pid
		time.Sleep(time.Second)
		if got := zombieChildren(pid); (len(got) > 0) != c.zombies {
			t.Errorf("--init=%v: zombie children of PID 1: %v, want zombies: %v", c.init, got, c.zombies)
		}
		mustKiln(t, root, "rm", "-f", id)
	}
}

// Under --init the command is a child of kiln's init, gets the signals sent to the
// container, and its exit status is the container's.
func TestInitForwardsSignalsAndStatus(t *testing.T) {
	root := newContainerRoot(t)
	out, _ := mustKiln(t, root, "run", "--rm", "--init", "busybox", "sh", "-c", "echo $$ $PPID; tr '\\0' ' ' < /proc/1/cmdline")
	if f := strings.Fields(out); len(f) < 3 || f[0] == "1" || f[1] != "1" || f[2] != "kiln-init" {
		t.Fatalf("pid, parent and PID 1 under --init: got %q, want the child of kiln-init", out)
	}
	if _, _, code := kiln(t, root, "run", "--rm", "--init", "busybox", "sh", "-c", "exit 7"); code != 7 {
		t.Fatalf("exit 7 under --init: got exit %d", code)
	}
	if _, stderr, code := kiln(t, root, "run", "--rm", "--init", "busybox", "no-such-command"); code != 127 {
		t.Fatalf("missing command under --init: exit %d, stderr %q; want 127", code, stderr)
	}
	id := runDetached(t, root, "--init", "busybox", "sh", "-c", "trap 'exit 3' TERM; while true; do sleep 0.1; done")
	start := time.Now()
	mustKiln(t, root, "stop", "-t", "10", id)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop took %v: SIGTERM did not reach the command", d)
	}
	if st := inspectCtr(t, root, id); st.State.ExitCode != 3 {
		t.Errorf("exit code after SIGTERM: got %d, want 3 (the trap's)", st.State.ExitCode)
	}
}
