package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// probeScript reports what a process sees of its container, one key=value a
// line. It uses the shell's own globbing rather than ls, so that counting
// processes does not start more of them.
const probeScript = `#!/bin/sh
echo "pid=$$"
echo "hostname=$(hostname)"
for p in /proc/[0-9]*; do echo "proc=${p#/proc/}"; done
for f in /* /.[!.]*; do [ -e "$f" ] && echo "root=${f#/}"; done
if [ -e "$1" ]; then echo host-marker=visible; else echo host-marker=hidden; fi
`

type probeReport struct {
	pid, hostname, hostMarker string
	procs, root               []string
}

func parseProbe(t *testing.T, lines []string) probeReport {
	t.Helper()
	var r probeReport
	for _, l := range lines {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if !ok {
			continue
		}
		switch k {
		case "pid":
			r.pid = v
		case "hostname":
			r.hostname = v
		case "proc":
			r.procs = append(r.procs, v)
		case "root":
			r.root = append(r.root, v)
		case "host-marker":
			r.hostMarker = v
		}
	}
	if r.pid == "" || r.hostMarker == "" {
		t.Fatalf("probe: got output %q, want a full report", lines)
	}
	return r
}

// checkIsolated checks that a process ran as PID 1 of its own PID namespace,
// with its own host name and the image's files as its root.
func checkIsolated(t *testing.T, where string, r probeReport) {
	t.Helper()
	if r.pid != "1" {
		t.Errorf("%s: got $$ = %s, want 1 (PID 1 of its own PID namespace)", where, r.pid)
	}
	hostProcs := 0
	if entries, err := os.ReadDir("/proc"); err == nil {
		for _, e := range entries {
			if _, err := strconv.Atoi(e.Name()); err == nil {
				hostProcs++
			}
		}
	}
	if len(r.procs) == 0 || len(r.procs) > 5 || len(r.procs) >= hostProcs {
		t.Errorf("%s: got PIDs %v in /proc, want a handful (its own; the host has %d)", where, r.procs, hostProcs)
	}
	if host, err := os.Hostname(); err == nil && r.hostname == host {
		t.Errorf("%s: got hostname %q, want another than the host's", where, r.hostname)
	}
	if r.hostMarker != "hidden" {
		t.Errorf("%s: got a file made on the host visible, want it hidden", where)
	}
	root := map[string]bool{}
	for _, f := range r.root {
		root[f] = true
	}
	for _, want := range []string{"bin", "image-marker", "probe.sh"} {
		if !root[want] {
			t.Errorf("%s: got / = %v, want /%s in it (from the image)", where, r.root, want)
		}
	}
	// What a container may have at its root besides the image's files: the
	// usual mount points a runtime provides.
	runtime := map[string]bool{"dev": true, "proc": true, "sys": true, "etc": true, "tmp": true, "run": true}
	host, err := os.ReadDir("/")
	if err != nil {
		t.Fatal(err)
	}
	var leaked []string
	for _, e := range host {
		if !runtime[e.Name()] && e.Name() != "bin" && root[e.Name()] {
			leaked = append(leaked, e.Name())
		}
	}
	if len(leaked) > 0 {
		t.Errorf("%s: got / = %v, want none of the host's %v", where, r.root, leaked)
	}
}

func isolationContext(t *testing.T) (dir, hostMarker string) {
	t.Helper()
	hostMarker = filepath.Join(t.TempDir(), "host-marker")
	writeFiles(t, filepath.Dir(hostMarker), map[string]string{"host-marker": "on the host\n"})
	dir = newContext(t, map[string]string{
		"Dockerfile": `FROM busybox
COPY image-marker probe.sh /
RUN echo shell-pid=$$
RUN ["/bin/sh", "/probe.sh", "` + hostMarker + `"]
`,
		"image-marker": "in the image\n",
		"probe.sh":     probeScript,
	})
	return dir, hostMarker
}

// A RUN step is PID 1 of its own namespaces and sees only the image.
func TestIsolationInRun(t *testing.T) {
	root := newBusyboxRoot(t)
	dir, _ := isolationContext(t)
	log, _ := build(t, root, dir)
	if out := log.step(t, "RUN echo shell-pid").output; strings.Join(out, "\n") != "shell-pid=1" {
		t.Errorf("RUN echo shell-pid=$$: got output %q, want shell-pid=1", out)
	}
	checkIsolated(t, "RUN", parseProbe(t, log.step(t, `/probe.sh",`).output))
}

// kiln run is PID 1 of its own namespaces and sees only the image.
func TestIsolationInKilnRun(t *testing.T) {
	root := newBusyboxRoot(t)
	dir, hostMarker := isolationContext(t)
	build(t, root, dir, "-t", "iso")
	stdout, _ := mustKiln(t, root, "run", "--rm", "iso", "/bin/sh", "/probe.sh", hostMarker)
	checkIsolated(t, "kiln run", parseProbe(t, strings.Split(stdout, "\n")))

	stdout, _ = mustKiln(t, root, "run", "--rm", "iso", "sh", "-c", "echo $$")
	if stdout != "1\n" {
		t.Errorf("run iso sh -c 'echo $$': got %q, want %q", stdout, "1\n")
	}
	// What a container writes stays in it.
	mustKiln(t, root, "run", "--rm", "iso", "sh", "-c", "echo scribble > /image-marker && rm /probe.sh")
	stdout, _ = mustKiln(t, root, "run", "--rm", "iso", "cat", "/image-marker", "/probe.sh")
	if !strings.HasPrefix(stdout, "in the image\n") {
		t.Errorf("run after a container wrote: got %q, want the image's files unchanged", stdout)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "image-marker")); err != nil || string(got) != "in the image\n" {
		t.Errorf("context file after a container wrote: got %q, %v, want it unchanged", got, err)
	}
}

// With --network none a container has only a loopback interface.
func TestRunNetworkNone(t *testing.T) {
	root := newBusyboxRoot(t)
	stdout, _ := mustKiln(t, root, "run", "--rm", "--network", "none", "busybox", "cat", "/proc/net/dev")
	if ifaces := interfaces(stdout); strings.Join(ifaces, " ") != "lo" {
		t.Errorf("run --network none: got interfaces %v, want only lo", ifaces)
	}
	dir := newContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN cat /proc/net/dev\n"})
	log, _ := build(t, root, dir, "--network", "none")
	if ifaces := interfaces(strings.Join(log.step(t, "RUN cat").output, "\n")); strings.Join(ifaces, " ") != "lo" {
		t.Errorf("build --network none: got interfaces %v in RUN, want only lo", ifaces)
	}
}

// interfaces lists the interface names in /proc/net/dev.
func interfaces(procNetDev string) []string {
	var names []string
	for _, l := range strings.Split(procNetDev, "\n") {
		name, _, ok := strings.Cut(l, ":")
		if ok && !strings.Contains(name, "|") {
			names = append(names, strings.TrimSpace(name))
		}
	}
	return names
}
