package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// kill -9 of kiln in the middle of a RUN leaves no mount and no process
// behind, and the next build in the same store succeeds.
func TestKillDuringRun(t *testing.T) {
	root := newBusyboxRoot(t)
	// 37 makes the sleeping process recognisable among the host's.
	dir := newContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN echo started && sleep 37\n",
	})
	// Wait until the step has printed from inside its container: then its
	// mounts exist and the process runs.
	signalWhen(t, root, " started", syscall.SIGKILL, "build", "--progress", "plain", dir)
	checkNoLeftovers(t, "after kill -9 of kiln build", root)

	next := newContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo after-the-crash > /ok\n"})
	build(t, root, next, "-t", "next")
	if stdout, _ := mustKiln(t, root, "run", "--rm", "next", "cat", "/ok"); stdout != "after-the-crash\n" {
		t.Errorf("run after the crash: got %q, want %q", stdout, "after-the-crash\n")
	}
	if m := mountsUnder(t, root); len(m) > 0 {
		t.Errorf("after a build and a run: got mounts under the store, want none:\n%s", strings.Join(m, "\n"))
	}
	if entries, err := os.ReadDir(filepath.Join(root, "tmp")); err == nil && len(entries) > 0 {
		t.Logf("note: %d entries left in tmp/ after the next build", len(entries))
	}
}

// kill -9 of kiln run leaves no mount and no process behind either.
func TestKillDuringKilnRun(t *testing.T) {
	root := newBusyboxRoot(t)
	signalWhen(t, root, "started", syscall.SIGKILL, "run", "--rm", "busybox", "sh", "-c", "echo started; sleep 37")
	checkNoLeftovers(t, "after kill -9 of kiln run", root)
	if stdout, _ := mustKiln(t, root, "run", "--rm", "busybox", "echo", "again"); stdout != "again\n" {
		t.Errorf("run after the kill: got %q, want %q", stdout, "again\n")
	}
	// The next look at the containers reconciles the killed one: it is
	// exited, and its cgroups (which outlive any store) are gone.
	mustKiln(t, root, "ps", "-a")
	ids, _ := os.ReadDir(filepath.Join(root, "containers"))
	for _, id := range ids {
		for _, c := range []string{"freezer", "memory", "pids", "cpu,cpuacct"} {
			if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", c, "kiln", id.Name())); err == nil {
				t.Errorf("after kill -9 of kiln run and ps -a: cgroup %s/kiln/%s still exists", c, id.Name())
			}
		}
	}
}

// Ctrl-C (SIGINT) of a build stops the running step promptly, reports the
// interruption, and leaves nothing behind.
func TestInterruptBuild(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN echo started && sleep 37\n",
	})
	start := time.Now()
	out, code := signalWhen(t, root, " started", syscall.SIGINT, "build", "--progress", "plain", "-t", "interrupted", dir)
	if elapsed := time.Since(start); elapsed > 20*time.Second {
		t.Errorf("build after SIGINT: took %v, want it to stop promptly", elapsed)
	}
	if code == 0 {
		t.Errorf("build after SIGINT: got exit status 0, want non-zero; output:\n%s", out)
	}
	checkNoLeftovers(t, "after SIGINT of kiln build", root)
	if _, _, code := kiln(t, root, "inspect", "interrupted"); code == 0 {
		t.Errorf("inspect interrupted: got exit status 0, want non-zero (an interrupted build tags nothing)")
	}
}

// signalWhen starts kiln with args, waits for a line of its output (stdout
// and stderr together) containing marker, sends sig to kiln alone (not its
// process group), and returns the output and kiln's exit status.
func signalWhen(t *testing.T, root, marker string, sig syscall.Signal, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
	defer cancel()
	cmd := kilnCommand(ctx, root, args...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		pw.Close()
		exited <- err
	}()
	var out bytes.Buffer
	sc := bufio.NewScanner(pr)
	found := false
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), marker) {
			found = true
			break
		}
	}
	if !found {
		<-exited
		t.Fatalf("kiln %s: ended before printing %q; output:\n%s", strings.Join(args, " "), marker, out.String())
	}
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(pr)
	out.Write(rest)
	err := <-exited
	checkNoStackTrace(t, args, out.String())
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("kiln %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), 0
}

// checkNoLeftovers fails the test if a mount under root is visible on the
// host or a process of the test (sleep 37, or one working under root) still
// runs, giving the kernel a moment to tear down what died with kiln.
func checkNoLeftovers(t *testing.T, when, root string) {
	t.Helper()
	var mounts, procs []string
	for deadline := time.Now().Add(3 * time.Second); ; {
		mounts, procs = mountsUnder(t, root), leftoverProcesses(root, "sleep\x0037")
		if len(mounts)+len(procs) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(mounts) > 0 {
		t.Errorf("%s: got mounts under the store on the host, want none:\n%s", when, strings.Join(mounts, "\n"))
	}
	if len(procs) > 0 {
		t.Errorf("%s: got processes left running, want none:\n%s", when, strings.Join(procs, "\n"))
		for _, p := range procs {
			if pid, err := strconv.Atoi(strings.Fields(p)[0]); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

// mountsUnder lists the host's mounts whose mount point or source mention
// dir.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, dir) {
			out = append(out, l)
		}
	}
	return out
}

// leftoverProcesses lists processes with the given command line (arguments
// separated by NUL), or whose cwd or root is under dir.
func leftoverProcesses(dir, cmdline string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		p := filepath.Join("/proc", e.Name())
		cl, _ := os.ReadFile(filepath.Join(p, "cmdline"))
		cwd, _ := os.Readlink(filepath.Join(p, "cwd"))
		rootLink, _ := os.Readlink(filepath.Join(p, "root"))
		if strings.TrimRight(string(cl), "\x00") == cmdline || strings.HasPrefix(cwd, dir) || strings.HasPrefix(rootLink, dir) {
			out = append(out, fmt.Sprintf("%d %q cwd=%s root=%s", pid, cl, cwd, rootLink))
		}
	}
	return out
}

// Builds started at once on one store, sharing a base and some steps, all
// succeed and each yields its own image.
func TestConcurrentBuilds(t *testing.T) {
	root := newRoot(t)
	// Both build the base image at once too: same layers, written twice.
	var wg sync.WaitGroup
	type outcome struct {
		stdout, stderr string
		code           int
	}
	results := make([]outcome, 2)
	for i := range results {
		wg.Go(func() {
			o := &results[i]
			o.stdout, o.stderr, o.code = kiln(t, root, "build", "-q", "-t", "busybox", busyboxContext)
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("concurrent base build %d: got exit status %d, want 0\nstderr:\n%s", i, r.code, r.stderr)
		}
	}
	if results[0].stdout != results[1].stdout {
		t.Errorf("concurrent base builds: got image IDs %q and %q, want the same", results[0].stdout, results[1].stdout)
	}

	names := []string{"one", "two", "three"}
	results = make([]outcome, len(names))
	for i, name := range names {
		dir := newContext(t, map[string]string{
			"Dockerfile": fmt.Sprintf(`FROM busybox
RUN echo shared > /shared && sleep 1
COPY %[1]s.txt /name
RUN cat /shared /name > /both
`, name),
			name + ".txt": name + "\n",
		})
		wg.Go(func() {
			o := &results[i]
			o.stdout, o.stderr, o.code = kiln(t, root, "build", "-q", "-t", name, dir)
		})
	}
	wg.Wait()
	for i, name := range names {
		if r := results[i]; r.code != 0 {
			t.Errorf("concurrent build of %s: got exit status %d, want 0\nstderr:\n%s", name, r.code, r.stderr)
			continue
		}
		if stdout, _ := mustKiln(t, root, "run", "--rm", name, "cat", "/both"); stdout != "shared\n"+name+"\n" {
			t.Errorf("run %s cat /both: got %q, want %q", name, stdout, "shared\n"+name+"\n")
		}
	}
	stdout, _ := mustKiln(t, root, "images")
	for _, name := range append(names, "busybox") {
		if !hasRow(strings.Split(stdout, "\n"), name, "latest") {
			t.Errorf("images after concurrent builds: got\n%s\nwant %s latest", stdout, name)
		}
	}
	// Runs at once work too, each in its own container.
	results = make([]outcome, 4)
	for i := range results {
		wg.Go(func() {
			o := &results[i]
			o.stdout, o.stderr, o.code = kiln(t, root, "run", "--rm", "one", "sh", "-c", fmt.Sprintf("echo %d > /mine && sleep 0.5 && cat /mine", i))
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 || r.stdout != fmt.Sprintf("%d\n", i) {
			t.Errorf("concurrent run %d: got exit status %d, stdout %q, want 0 and %q\nstderr:\n%s", i, r.code, r.stdout, fmt.Sprintf("%d\n", i), r.stderr)
		}
	}
}

// kill -9 at any moment of a build (copying, running, writing layers,
// writing the image) leaves a store the next build completes correctly
// from: no record points at a half-written layer.
func TestKillAtAnyMoment(t *testing.T) {
	root := newBusyboxRoot(t)
	big := make([]byte, 8<<20)
	for i := range big {
		big[i] = byte(i * 7 / 3)
	}
	dir := newContext(t, map[string]string{
		"Dockerfile": `FROM busybox
COPY big /big
RUN head -c 8000000 /dev/urandom > /r1 && echo one
RUN cat /big /r1 > /both && echo two
RUN md5sum /big /r1 /both > /sums
`,
		"big": string(big),
	})
	for _, delay := range []time.Duration{30, 80, 150, 250, 400, 600} {
		ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
		cmd := kilnCommand(ctx, root, "build", "--no-cache", "-q", "-t", "killed", dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		cancel()
		if m := mountsUnder(t, root); len(m) > 0 {
			t.Errorf("after kill -9 at %v ms: got mounts under the store, want none:\n%s", delay, strings.Join(m, "\n"))
		}
	}
	build(t, root, dir, "-t", "whole")
	stdout, _ := mustKiln(t, root, "run", "--rm", "whole", "sh", "-c", "cat /r1 /r1 > /dev/null && md5sum /big /r1 /both > /now.sums && cmp /now.sums /sums && cat /big /r1 | cmp - /both && echo consistent")
	if stdout != "consistent\n" {
		t.Errorf("image built after the kills: got %q, want %q", stdout, "consistent\n")
	}
	// And again from the cache alone.
	log, _ := build(t, root, dir, "-t", "whole")
	for _, s := range log.buildSteps() {
		if !s.cached {
			t.Errorf("rebuild after the kills: step %s ran, want CACHED", s)
		}
	}
}
