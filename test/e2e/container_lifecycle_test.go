package e2e

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestContainerDetachedSurvivesCLI(t *testing.T) {
	root := newContainerRoot(t)
	start := time.Now()
	id := runDetached(t, root, "--name", "web", "busybox", "sh", "-c", "echo hello; echo oops >&2; while true; do sleep 0.1; done")
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("run -d took %v, want it to return at once", d)
	}
	if row := psRow(t, root, "web"); !strings.Contains(row, id[:12]) || !strings.Contains(row, "Up ") || !strings.Contains(row, "busybox") {
		t.Errorf("ps: got row %q, want web Up with ID %s", row, id[:12])
	}
	if out, _ := mustKiln(t, root, "ps"); !strings.Contains(out, "CONTAINER ID") || !strings.Contains(out, "NAMES") {
		t.Errorf("ps: got %q, want Docker's header", out)
	}
	eventually(t, 10*time.Second, "logs shows the output", func() bool {
		out, errOut := mustKiln(t, root, "logs", "web")
		return out == "hello\n" && errOut == "oops\n"
	})
	st := inspectCtr(t, root, id[:8])
	if !st.State.Running || st.State.Pid <= 0 || st.Name != "/web" || st.ID != id {
		t.Errorf("inspect: got %+v, want web running with a pid", st)
	}
	mustKiln(t, root, "stop", "-t", "1", "web")
	if processAlive(st.State.Pid) {
		t.Errorf("stop: the container's process %d is still alive", st.State.Pid)
	}
	if row := psRow(t, root, "web"); !strings.Contains(row, "Exited (137)") {
		t.Errorf("ps -a after stop: got %q, want Exited (137)", row)
	}
	if out, _ := mustKiln(t, root, "ps"); strings.Contains(out, "web") {
		t.Errorf("ps without -a lists a stopped container:\n%s", out)
	}
	// start brings it back under a new supervisor, with the same log.
	mustKiln(t, root, "start", "web")
	eventually(t, 10*time.Second, "logs shows both runs", func() bool {
		out, _ := mustKiln(t, root, "logs", "--tail", "5", "web")
		return out == "hello\nhello\n"
	})
	// The tail counts lines of both streams (in whichever order the two
	// pipes delivered them).
	if out, errOut := mustKiln(t, root, "logs", "--tail", "2", "web"); out != "hello\n" || errOut != "oops\n" {
		t.Errorf("logs --tail 2: got %q and %q on stderr, want the last run's hello and oops", out, errOut)
	}
}

func TestContainerStopTimeout(t *testing.T) {
	root := newContainerRoot(t)
	// A trap for TERM: stop ends it quickly with the trap's status.
	runDetached(t, root, "--name", "trapper", "busybox", "sh", "-c", "trap 'exit 42' TERM; while true; do sleep 0.1; done")
	// PID 1 without a handler ignores TERM: stop must SIGKILL it after -t.
	runDetached(t, root, "--name", "deaf", "busybox", "sh", "-c", "while true; do sleep 0.1; done")

	start := time.Now()
	mustKiln(t, root, "stop", "-t", "30", "trapper")
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("stop of a container trapping TERM took %v, want well under the 30s timeout", d)
	}
	if out, _ := mustKiln(t, root, "wait", "trapper"); strings.TrimSpace(out) != "42" {
		t.Errorf("wait trapper: got %q, want 42 (its trap's status)", out)
	}
	start = time.Now()
	mustKiln(t, root, "stop", "-t", "1", "deaf")
	if d := time.Since(start); d < time.Second || d > 15*time.Second {
		t.Errorf("stop -t 1 of a container ignoring TERM took %v, want 1s and a bit", d)
	}
	if st := inspectCtr(t, root, "deaf"); st.State.Running || st.State.ExitCode != 137 {
		t.Errorf("after stop -t 1: got %+v, want exited 137", st.State)
	}
}

func TestContainerStopSignal(t *testing.T) {
	root := newContainerRoot(t)
	dir := newContext(t, map[string]string{"Dockerfile": "FROM busybox\nSTOPSIGNAL SIGUSR1\n"})
	if _, errOut, code := kiln(t, root, "build", "-q", "-t", "stopper", dir); code != 0 {
		if strings.Contains(errOut, "STOPSIGNAL") {
			t.Skipf("the frontend does not build STOPSIGNAL yet: %s", strings.TrimSpace(errOut))
		}
		t.Fatalf("build: exit %d: %s", code, errOut)
	}
	runDetached(t, root, "--name", "s", "stopper", "sh", "-c", "trap 'exit 10' USR1; trap 'exit 20' TERM; echo ready; while true; do sleep 0.1; done")
	// A signal that arrives before the shell has set its traps is ignored
	// (the shell is PID 1), so wait until it says it is ready.
	eventually(t, 10*time.Second, "the traps are set", func() bool {
		out, _ := mustKiln(t, root, "logs", "s")
		return strings.Contains(out, "ready")
	})
	mustKiln(t, root, "stop", "-t", "30", "s")
	if out, _ := mustKiln(t, root, "wait", "s"); strings.TrimSpace(out) != "10" {
		t.Errorf("stop of an image with STOPSIGNAL SIGUSR1: exit %q, want 10 (the USR1 trap)", out)
	}
}

func TestContainerPause(t *testing.T) {
	root := newContainerRoot(t)
	runDetached(t, root, "--name", "counter", "busybox", "sh", "-c", "i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done")
	lines := func() int {
		out, _ := mustKiln(t, root, "logs", "counter")
		return strings.Count(out, "\n")
	}
	eventually(t, 10*time.Second, "the counter counts", func() bool { return lines() > 2 })
	mustKiln(t, root, "pause", "counter")
	if row := psRow(t, root, "counter"); !strings.Contains(row, "(Paused)") {
		t.Errorf("ps of a paused container: got %q, want Up … (Paused)", row)
	}
	if st := inspectCtr(t, root, "counter"); !st.State.Paused || st.State.Status != "paused" {
		t.Errorf("inspect of a paused container: got %+v, want paused", st.State)
	}
	n := lines()
	time.Sleep(time.Second)
	if m := lines(); m != n {
		t.Errorf("paused counter advanced from %d to %d lines", n, m)
	}
	if _, errOut, code := kiln(t, root, "pause", "counter"); code == 0 || !strings.Contains(errOut, "counter") {
		t.Errorf("pause of a paused container: exit %d, %q; want a failure naming it", code, errOut)
	}
	mustKiln(t, root, "unpause", "counter")
	eventually(t, 10*time.Second, "the counter resumes", func() bool { return lines() > n+2 })
	// A paused container can still be removed.
	mustKiln(t, root, "pause", "counter")
	mustKiln(t, root, "rm", "-f", "counter")
}

func TestContainerExec(t *testing.T) {
	root := newContainerRoot(t)
	runDetached(t, root, "--name", "box", "-e", "FROM_RUN=1", "busybox", "sh", "-c", "echo made-by-ctr > /marker; exec sleep 1000")
	eventually(t, 10*time.Second, "the container wrote /marker", func() bool {
		out, _, code := kiln(t, root, "exec", "box", "cat", "/marker")
		return code == 0 && out == "made-by-ctr\n"
	})
	// Same pid namespace: PID 1 is the container's process.
	out, _ := mustKiln(t, root, "exec", "box", "cat", "/proc/1/cmdline")
	if got := strings.ReplaceAll(out, "\x00", " "); got != "sleep 1000 " {
		t.Errorf("exec cat /proc/1/cmdline: got %q, want the container's sleep 1000", got)
	}
	out, _ = mustKiln(t, root, "exec", "-e", "X=y", "-w", "/bin", "-u", "1000:1000", "box", "sh", "-c", "echo $FROM_RUN $X $(pwd) $(id -u):$(id -g) $(hostname)")
	if f := strings.Fields(out); len(f) != 5 || f[0] != "1" || f[1] != "y" || f[2] != "/bin" || f[3] != "1000:1000" {
		t.Errorf("exec -e -w -u: got %q, want \"1 y /bin 1000:1000 <hostname>\"", out)
	}
	if _, _, code := kiln(t, root, "exec", "box", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exec sh -c 'exit 7': exit %d, want 7", code)
	}
	out, _ = mustKiln(t, root, "exec", "box", "sh", "-c", "echo $$")
	if pid, err := strconv.Atoi(strings.TrimSpace(out)); err != nil || pid <= 1 || pid > 1000 {
		t.Errorf("exec echo $$: got %q, want a small pid of the container's namespace", out)
	}
	if out, _, _ := kilnStdin(t, root, strings.NewReader("piped\n"), "exec", "-i", "box", "cat"); out != "piped\n" {
		t.Errorf("exec -i cat: got %q, want the piped input", out)
	}
	if _, errOut, code := kiln(t, root, "exec", "box", "nosuch"); code != 127 || !strings.Contains(errOut, "nosuch") {
		t.Errorf("exec of a missing command: exit %d, %q; want 127 naming it", code, errOut)
	}
	mustKiln(t, root, "stop", "-t", "0", "box")
	if _, errOut, code := kiln(t, root, "exec", "box", "true"); code != 125 || !strings.Contains(errOut, "box is not running") {
		t.Errorf("exec in a stopped container: exit %d, %q; want 125, not running", code, errOut)
	}
}

func TestContainerRmForce(t *testing.T) {
	root := newContainerRoot(t)
	runDetached(t, root, "--name", "victim", "busybox", "sleep", "1000")
	pid := inspectCtr(t, root, "victim").State.Pid
	if _, errOut, code := kiln(t, root, "rm", "victim"); code == 0 || !strings.Contains(errOut, "victim") || !strings.Contains(errOut, "-f") {
		t.Errorf("rm of a running container: exit %d, %q; want a failure naming it and -f", code, errOut)
	}
	mustKiln(t, root, "rm", "-f", "victim")
	if processAlive(pid) {
		t.Errorf("rm -f: the container's process %d is still alive", pid)
	}
	if row := psRow(t, root, "victim"); row != "" {
		t.Errorf("ps -a after rm -f: got %q, want no row", row)
	}
	if _, errOut, code := kiln(t, root, "logs", "victim"); code == 0 || !strings.Contains(errOut, "no such container: victim") {
		t.Errorf("logs of a removed container: exit %d, %q; want no such container", code, errOut)
	}
}

func TestContainerWait(t *testing.T) {
	root := newContainerRoot(t)
	id := runDetached(t, root, "busybox", "sh", "-c", "sleep 0.5; exit 3")
	if out, _ := mustKiln(t, root, "wait", id[:12]); strings.TrimSpace(out) != "3" {
		t.Errorf("wait: got %q, want 3", out)
	}
	if row := psRow(t, root, inspectCtr(t, root, id).Name[1:]); !strings.Contains(row, "Exited (3)") {
		t.Errorf("ps -a: got %q, want Exited (3)", row)
	}
}

func TestContainerSupervisorKilled(t *testing.T) {
	root := newContainerRoot(t)
	runDetached(t, root, "--name", "orphan", "busybox", "sleep", "1000")
	pid := inspectCtr(t, root, "orphan").State.Pid
	// The container's init is a child of its supervisor.
	sup := parentPid(t, pid)
	if err := syscall.Kill(sup, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the container dies with its supervisor", func() bool { return !processAlive(pid) })
	// state.json still says running; ps must tell the truth.
	if row := psRow(t, root, "orphan"); !strings.Contains(row, "Exited (137)") {
		t.Errorf("ps -a after kill -9 of the supervisor: got %q, want Exited (137)", row)
	}
	if st := inspectCtr(t, root, "orphan"); st.State.Running || st.State.Status != "exited" {
		t.Errorf("inspect after kill -9 of the supervisor: got %+v, want exited", st.State)
	}
	if out, _ := mustKiln(t, root, "wait", "orphan"); strings.TrimSpace(out) != "137" {
		t.Errorf("wait: got %q, want 137", out)
	}
	// And it can be started again.
	mustKiln(t, root, "start", "orphan")
	if st := inspectCtr(t, root, "orphan"); !st.State.Running {
		t.Errorf("start after the supervisor died: got %+v, want running", st.State)
	}
}

func TestContainerNames(t *testing.T) {
	root := newContainerRoot(t)
	runDetached(t, root, "--name", "x", "busybox", "sleep", "1000")
	_, errOut, code := kiln(t, root, "run", "-d", "--name", "x", "busybox", "true")
	if code != 125 || !strings.Contains(errOut, `"x"`) || !strings.Contains(errOut, "already in use") {
		t.Errorf("a second --name x: exit %d, %q; want 125, name already in use", code, errOut)
	}
	if _, errOut, code := kiln(t, root, "create", "--name", "bad/name", "busybox"); code != 125 || !strings.Contains(errOut, "--name") {
		t.Errorf("--name bad/name: exit %d, %q; want 125 naming --name", code, errOut)
	}
	mustKiln(t, root, "rm", "-f", "x")
	runDetached(t, root, "--name", "x", "busybox", "true")
	// Without --name: a generated, unique one.
	a, b := runDetached(t, root, "busybox", "true"), runDetached(t, root, "busybox", "true")
	if na, nb := inspectCtr(t, root, a).Name, inspectCtr(t, root, b).Name; na == nb || na == "/" {
		t.Errorf("generated names: got %q and %q, want two different ones", na, nb)
	}
}

func TestContainerAutoRemove(t *testing.T) {
	root := newContainerRoot(t)
	runDetached(t, root, "--rm", "--name", "ephemeral", "busybox", "sh", "-c", "sleep 0.3")
	eventually(t, 15*time.Second, "run -d --rm removes the container after exit", func() bool {
		return psRow(t, root, "ephemeral") == ""
	})
	// Foreground: kept (and its status shown) without --rm, gone with it.
	if _, _, code := kiln(t, root, "run", "--name", "kept", "busybox", "sh", "-c", "exit 4"); code != 4 {
		t.Errorf("run: exit %d, want 4", code)
	}
	if row := psRow(t, root, "kept"); !strings.Contains(row, "Exited (4)") {
		t.Errorf("ps -a after a foreground run: got %q, want Exited (4)", row)
	}
	mustKiln(t, root, "run", "--rm", "--name", "gone", "busybox", "true")
	if row := psRow(t, root, "gone"); row != "" {
		t.Errorf("ps -a after run --rm: got %q, want no row", row)
	}
}

func TestContainerRestartPolicy(t *testing.T) {
	root := newContainerRoot(t)
	runDetached(t, root, "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 3")
	if out, _ := mustKiln(t, root, "wait", "flaky"); strings.TrimSpace(out) != "3" {
		t.Errorf("wait: got %q, want 3", out)
	}
	if out, _ := mustKiln(t, root, "logs", "flaky"); out != "run\nrun\nrun\n" {
		t.Errorf("logs of on-failure:2: got %q, want three runs", out)
	}
	if st := inspectCtr(t, root, "flaky"); st.RestartCount != 2 {
		t.Errorf("RestartCount: got %d, want 2", st.RestartCount)
	}
	// always restarts even a clean exit, until stopped.
	runDetached(t, root, "--name", "phoenix", "--restart", "always", "busybox", "sh", "-c", "echo up; sleep 0.2")
	eventually(t, 20*time.Second, "always restarts", func() bool {
		out, _ := mustKiln(t, root, "logs", "phoenix")
		return strings.Count(out, "up") >= 3
	})
	mustKiln(t, root, "stop", "-t", "1", "phoenix")
	if row := psRow(t, root, "phoenix"); !strings.Contains(row, "Exited") {
		t.Errorf("after stop of restart=always: got %q, want Exited", row)
	}
	if _, errOut, code := kiln(t, root, "run", "--restart", "sometimes", "busybox", "true"); code != 125 || !strings.Contains(errOut, "--restart") {
		t.Errorf("--restart sometimes: exit %d, %q; want 125 naming --restart", code, errOut)
	}
}

func TestContainerCreateStartKill(t *testing.T) {
	root := newContainerRoot(t)
	out, _ := mustKiln(t, root, "create", "--name", "later", "busybox", "sh", "-c", "echo started; exec sleep 1000")
	if id := strings.TrimSpace(out); len(id) != 64 {
		t.Fatalf("create: got %q, want an ID", out)
	}
	if row := psRow(t, root, "later"); !strings.Contains(row, "Created") {
		t.Errorf("ps -a after create: got %q, want Created", row)
	}
	mustKiln(t, root, "start", "later")
	eventually(t, 10*time.Second, "the started container logs", func() bool {
		out, _ := mustKiln(t, root, "logs", "later")
		return out == "started\n"
	})
	pid := inspectCtr(t, root, "later").State.Pid
	mustKiln(t, root, "restart", "-t", "1", "later")
	if st := inspectCtr(t, root, "later"); !st.State.Running || st.State.Pid == pid {
		t.Errorf("restart: got %+v, want running with a new pid (was %d)", st.State, pid)
	}
	if _, errOut, code := kiln(t, root, "kill", "-s", "NOSUCH", "later"); code == 0 || !strings.Contains(errOut, "-s") {
		t.Errorf("kill -s NOSUCH: exit %d, %q; want a failure naming -s", code, errOut)
	}
	// PID 1 ignores signals it has no handler for; SIGKILL is not one.
	mustKiln(t, root, "kill", "later")
	if out, _ := mustKiln(t, root, "wait", "later"); strings.TrimSpace(out) != "137" {
		t.Errorf("wait after kill: got %q, want 137", out)
	}
	// start -a runs it in the foreground with its status.
	mustKiln(t, root, "create", "--name", "fg", "busybox", "sh", "-c", "echo attached; exit 6")
	out, _, code := kiln(t, root, "start", "-a", "fg")
	if code != 6 || out != "attached\n" {
		t.Errorf("start -a: exit %d, %q; want 6, attached", code, out)
	}
	if _, errOut, code := kiln(t, root, "stop", "nosuch"); code == 0 || !strings.Contains(errOut, "no such container: nosuch") {
		t.Errorf("stop nosuch: exit %d, %q; want no such container", code, errOut)
	}
}
