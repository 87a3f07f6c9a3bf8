package e2e

// The attack suite, part one: what a RUN step or a `kiln run` container can
// do to the kernel and the host. Each test plants a canary outside the store
// and the rootfs and checks it is untouched, and that kiln either reports a
// clear error or contains the effect.

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// canary is a host file no container may change.
type canary struct {
	path, content string
}

func newCanary(t *testing.T) canary {
	t.Helper()
	c := canary{path: filepath.Join(t.TempDir(), "canary"), content: "canary " + t.Name() + "\n"}
	if err := os.WriteFile(c.path, []byte(c.content), 0o644); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c canary) check(t *testing.T) {
	t.Helper()
	got, err := os.ReadFile(c.path)
	if err != nil {
		t.Fatalf("canary %s: %v, want it untouched", c.path, err)
	}
	if string(got) != c.content {
		t.Fatalf("canary %s: got %q, want %q", c.path, got, c.content)
	}
}

func fileHash(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// statusLine returns the value of a /proc/self/status field in out.
func statusLine(out, field string) string {
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == field {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Docker's default capability set, as /proc/self/status prints it.
const dockerCaps = "00000000a80425fb"

func TestAttackCapabilities(t *testing.T) {
	root := newBusyboxRoot(t)
	c := newCanary(t)
	// In RUN: the default set, nothing ambient or inheritable.
	dir := newContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN grep -E '^Cap|^NoNewPrivs|^Seccomp:' /proc/self/status\n",
	})
	log, _ := build(t, root, dir)
	out := strings.Join(log.step(t, "RUN grep").output, "\n")
	for field, want := range map[string]string{
		"CapEff": dockerCaps, "CapPrm": dockerCaps, "CapBnd": dockerCaps,
		"CapInh": "0000000000000000", "CapAmb": "0000000000000000", "Seccomp": "2", "NoNewPrivs": "0",
	} {
		if got := statusLine(out, field); !strings.HasSuffix(got, want) {
			t.Errorf("RUN: %s: got %q, want %q", field, got, want)
		}
	}

	for _, tc := range []struct {
		name  string
		args  []string
		field string
		want  string
	}{
		{"default", nil, "CapEff", dockerCaps},
		{"non-root user has none", []string{"-u", "1000"}, "CapEff", "0000000000000000"},
		{"non-root user keeps the bounding set", []string{"-u", "1000"}, "CapBnd", dockerCaps},
		{"drop ALL add CHOWN", []string{"--cap-drop", "ALL", "--cap-add", "CHOWN"}, "CapBnd", "0000000000000001"},
		{"add NET_ADMIN", []string{"--cap-add", "cap_net_admin"}, "CapEff", "00000000a80435fb"},
		{"drop MKNOD,KILL", []string{"--cap-drop", "MKNOD,KILL"}, "CapEff", "00000000a00425db"},
		{"no-new-privileges", []string{"--security-opt", "no-new-privileges"}, "NoNewPrivs", "1"},
		{"seccomp=unconfined", []string{"--security-opt", "seccomp=unconfined"}, "Seccomp", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"run", "--rm"}, tc.args...), "busybox", "cat", "/proc/self/status")
			stdout, _ := mustKiln(t, root, args...)
			if got := statusLine(stdout, tc.field); got != tc.want {
				t.Errorf("%s: got %q, want %q", tc.field, got, tc.want)
			}
		})
	}

	// Without the capability, chown is refused.
	if _, _, code := kiln(t, root, "run", "--rm", "--cap-drop", "CHOWN", "busybox", "chown", "1:1", "/bin"); code == 0 {
		t.Errorf("chown with CHOWN dropped: got exit status 0, want a failure")
	}
	// --privileged warns, and gives what the host has.
	stdout, stderr := mustKiln(t, root, "run", "--rm", "--privileged", "busybox", "cat", "/proc/self/status")
	if !strings.Contains(stderr, "WARNING: --privileged") {
		t.Errorf("--privileged: got stderr %q, want a warning", stderr)
	}
	if got := statusLine(stdout, "Seccomp"); got != "0" {
		t.Errorf("--privileged: Seccomp: got %q, want 0", got)
	}
	if got := statusLine(stdout, "CapEff"); got == dockerCaps {
		t.Errorf("--privileged: CapEff: got the default set, want every capability the host has")
	}
	// A typo gets an error, exit 125, and a suggestion.
	_, stderr, code := kiln(t, root, "run", "--rm", "--cap-add", "SYS_ADMINN", "busybox", "true")
	if code != 125 || !strings.Contains(stderr, "did you mean SYS_ADMIN?") {
		t.Errorf("--cap-add SYS_ADMINN: got exit status %d, stderr %q; want 125 and a suggestion", code, stderr)
	}
	c.check(t)
}

// TestAttackSeccomp runs what Docker's default profile refuses, in RUN and
// in kiln run: each must fail, the host must not change.
func TestAttackSeccomp(t *testing.T) {
	root := newBusyboxRoot(t)
	c := newCanary(t)
	hostDir := filepath.Dir(c.path)
	attacks := []string{
		"unshare -U -r true",                                 // a user namespace: root again, with all caps in it
		"unshare -m true",                                    // a mount namespace
		"mkdir -p /mnt && mount -t tmpfs none /mnt",          // mount
		"umount -l /proc",                                    // umount2
		"nsenter -t 1 -m true",                               // setns
		"mkdir -p /mnt && mount --bind " + hostDir + " /mnt", // a host dir by name
		"swapoff -a",
		"hwclock -s", // settimeofday
	}
	for _, a := range attacks {
		t.Run(a, func(t *testing.T) {
			_, stderr, code := kiln(t, root, "run", "--rm", "busybox", "sh", "-c", a+" && echo ATTACK-WORKED")
			if code == 0 {
				t.Errorf("kiln run %q: got exit status 0, want a refusal; stderr %q", a, stderr)
			}
		})
	}
	// The same in a build step: the error says the step failed.
	dir := newContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN unshare -U -r cat " + c.path + "\n"})
	_, stderr, code := kiln(t, root, "build", "--progress", "plain", dir)
	if code == 0 || !strings.Contains(stderr, "Dockerfile:2") {
		t.Errorf("RUN unshare -U: got exit status %d, stderr %q; want a failure naming Dockerfile:2", code, stderr)
	}

	// A profile from a file: names and actions are applied, what kiln does
	// not implement is refused.
	profiles := t.TempDir()
	deny := filepath.Join(profiles, "deny-mkdir.json")
	writeFiles(t, profiles, map[string]string{
		"deny-mkdir.json": `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}`,
		"args.json":       `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_GT"}]}]}`,
		// Argument conditions: chmod is refused only to mode 0700.
		"mode.json": `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["chmod"],"action":"SCMP_ACT_ERRNO","args":[{"index":1,"value":448,"op":"SCMP_CMP_EQ"}]},{"names":["fchmodat","fchmodat2"],"action":"SCMP_ACT_ERRNO","args":[{"index":2,"value":448,"op":"SCMP_CMP_EQ"}]}]}`,
	})
	_, stderr, code = kiln(t, root, "run", "--rm", "--security-opt", "seccomp="+deny, "busybox", "mkdir", "/x")
	if code == 0 || !strings.Contains(stderr, "Operation not permitted") {
		t.Errorf("mkdir under a profile denying it: got exit status %d, stderr %q; want EPERM", code, stderr)
	}
	_, stderr, code = kiln(t, root, "run", "--rm", "--security-opt", "seccomp="+filepath.Join(profiles, "args.json"), "busybox", "true")
	if code != 125 || !strings.Contains(stderr, "SCMP_CMP_GT") || !strings.Contains(stderr, "not supported") {
		t.Errorf("profile with args: got exit status %d, stderr %q; want 125 and a clear error", code, stderr)
	}
	stdout, stderr, _ := kiln(t, root, "run", "--rm", "--security-opt", "seccomp="+filepath.Join(profiles, "mode.json"), "busybox", "sh", "-c",
		"mkdir /a && chmod 755 /a && echo chmod-755; chmod 700 /a && echo chmod-700; true")
	if !strings.Contains(stdout, "chmod-755") || strings.Contains(stdout, "chmod-700") {
		t.Errorf("profile refusing chmod to 0700: got %q (stderr %q), want 0755 allowed and 0700 refused", stdout, stderr)
	}
	_, stderr, code = kiln(t, root, "run", "--rm", "--security-opt", "apparmor=unconfined", "busybox", "true")
	if code != 125 || !strings.Contains(stderr, "apparmor") {
		t.Errorf("--security-opt apparmor=…: got exit status %d, stderr %q; want 125 naming the option", code, stderr)
	}
	c.check(t)
}

// TestAttackMaskedPaths reads and writes what runc masks or makes
// read-only, and checks the host's core_pattern (the classic escape: a
// container that writes it runs a program on the host) is unchanged.
func TestAttackMaskedPaths(t *testing.T) {
	root := newBusyboxRoot(t)
	corePattern := "/proc/sys/kernel/core_pattern"
	before, err := os.ReadFile(corePattern)
	if err != nil {
		t.Skipf("cannot read %s: %v", corePattern, err)
	}
	script := `exec 2>/dev/null
for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/latency_stats /proc/timer_stats; do
	[ -e $f ] && [ "$(head -c 1 $f | wc -c)" != 0 ] && echo "readable $f"
done
for d in /proc/acpi /proc/scsi /proc/asound /sys/firmware /sys/devices/virtual/powercap; do
	[ -d $d ] && [ -n "$(ls -A $d)" ] && echo "listable $d"
	touch $d/x 2>/dev/null && echo "writable $d"
done
echo '|/bin/sh -c "echo pwned"' > /proc/sys/kernel/core_pattern 2>/dev/null && echo "wrote core_pattern"
echo h > /proc/sysrq-trigger 2>/dev/null && echo "wrote sysrq-trigger"
echo 1 > /proc/sys/vm/drop_caches 2>/dev/null && echo "wrote drop_caches"
touch /proc/irq/x /proc/bus/x /proc/fs/x 2>/dev/null && echo "wrote /proc/irq"
echo done`
	dir := newContext(t, map[string]string{"Dockerfile": "FROM busybox\nCOPY check.sh /check.sh\nRUN sh /check.sh\n", "check.sh": script})
	log, _ := build(t, root, dir)
	runOut := strings.Join(log.step(t, "RUN sh /check.sh").output, "\n")
	stdout, _ := mustKiln(t, root, "run", "--rm", "busybox", "sh", "-c", script)
	for name, out := range map[string]string{"RUN": runOut, "kiln run": stdout} {
		if strings.TrimSpace(out) != "done" {
			t.Errorf("%s: got %q, want only \"done\" (every masked path hidden, every read-only path refused)", name, out)
		}
	}
	// --privileged lifts the masks (and only it does).
	stdout, _ = mustKiln(t, root, "run", "--rm", "--privileged", "busybox", "sh", "-c", "grep -c . /proc/timer_list >/dev/null && echo visible")
	if !strings.Contains(stdout, "visible") {
		t.Logf("--privileged: /proc/timer_list still hidden (%q); the kernel may lack it", stdout)
	}
	after, _ := os.ReadFile(corePattern)
	if string(after) != string(before) {
		t.Fatalf("host %s: got %q, want %q", corePattern, after, before)
	}
}

// TestAttackDevNullSymlink is the CVE-2025-31133 family: the image makes
// /dev a symlink into /proc/sys, hoping the runtime binds its "/dev/null"
// over a masked path writable, or writes through it. kiln's /dev is a tmpfs
// of its own, the /dev/null it binds is checked to be the 1:3 char device,
// and every mount goes fd to fd.
func TestAttackDevNullSymlink(t *testing.T) {
	root := newBusyboxRoot(t)
	corePattern := "/proc/sys/kernel/core_pattern"
	before, _ := os.ReadFile(corePattern)
	dir := newContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nCOPY rootfs/ /\n" +
			"RUN echo '|/bin/sh' > /dev/null; echo '|/bin/sh' > /proc/sys/kernel/core_pattern; ls /dev/ >/dev/null; echo contained\n",
		"rootfs/keep": "",
	})
	if err := os.Symlink("/proc/sys/kernel", filepath.Join(dir, "rootfs", "dev")); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := kiln(t, root, "build", "--progress", "plain", "-t", "devlink", dir)
	if code != 0 && !strings.Contains(stderr, "Dockerfile:3") {
		t.Errorf("build: got exit status %d, stderr %q; want success or an error naming the step", code, stderr)
	}
	if code == 0 {
		// Our /dev tmpfs now sits over the container's /proc/sys/kernel:
		// what the container writes there lands in that tmpfs.
		kiln(t, root, "run", "--rm", "devlink", "sh", "-c", "echo '|/bin/sh' > /proc/sys/kernel/core_pattern")
	}
	if after, _ := os.ReadFile(corePattern); string(after) != string(before) {
		t.Fatalf("host %s: got %q, want %q", corePattern, after, before)
	}
}

// TestAttackProcSelfExe is runc's CVE-2019-5736: the image's command is a
// script whose interpreter is /proc/self/exe, so the runtime execs itself
// inside the container, where it could be reopened for writing. kiln's init
// runs from a sealed memfd copy; the kiln file on the host never enters a
// container.
func TestAttackProcSelfExe(t *testing.T) {
	root := newBusyboxRoot(t)
	c := newCanary(t)
	sum := fileHash(t, kilnBin)
	dir := newContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nCOPY evil /evil\nRUN [\"/evil\"]\n",
		"evil":       "#!/proc/self/exe\n",
	})
	if err := os.Chmod(filepath.Join(dir, "evil"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The RUN either fails to exec or runs a kiln that finds nothing to do.
	_, stderr, code := kiln(t, root, "build", "--progress", "plain", "-t", "evil", dir)
	if code == 0 {
		t.Errorf("RUN of a #!/proc/self/exe script: got exit status 0, want a failure")
	} else if !strings.Contains(stderr, "Dockerfile:3") {
		t.Errorf("RUN of a #!/proc/self/exe script: got stderr %q, want the error to name Dockerfile:3", stderr)
	}
	// And from inside: what the container sees of its init and itself, and
	// a write attempt at every exe link it can reach.
	stdout, _ := mustKiln(t, root, "run", "--rm", "busybox", "sh", "-c",
		"readlink /proc/1/exe; for p in /proc/[0-9]*; do echo x >> $p/exe 2>/dev/null && echo wrote $p; done; true")
	if strings.Contains(stdout, "wrote") || strings.Contains(stdout, "kiln") {
		t.Errorf("inside: got %q, want no kiln binary in sight and no exe writable", stdout)
	}
	if got := fileHash(t, kilnBin); got != sum {
		t.Fatalf("kiln binary on the host: got sha256 %s, want %s unchanged", got, sum)
	}
	c.check(t)
}

// TestAttackLeakedFD is runc's CVE-2024-21626: a host directory fd left
// open in the runtime, reached as the working directory /proc/self/fd/N,
// puts the process's cwd on the host. kiln resolves the working directory
// inside the rootfs before pivot_root, changes into it after, and sets
// CLOEXEC on every fd above 2 before exec.
func TestAttackLeakedFD(t *testing.T) {
	root := newBusyboxRoot(t)
	c := newCanary(t)
	// From the cwd, ../../… reaches the container's root, which holds the
	// marker; on the host it would not.
	// ESC""APED: the progress shows the command, only the output has ESCAPED.
	check := `test -e ../../../../../../../../../../../kiln-marker || { echo ESC""APED; exit 1; }`
	ctxDir := newContext(t, map[string]string{"Dockerfile": "FROM busybox\nCOPY marker /kiln-marker\n", "marker": "m\n"})
	mustKiln(t, root, "build", "-q", "-t", "marked", ctxDir)

	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for n := 3; n <= 64; n++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(n int) {
			defer wg.Done()
			defer func() { <-sem }()
			dir := newContext(t, map[string]string{
				"Dockerfile": fmt.Sprintf("FROM marked\nWORKDIR /proc/self/fd/%d\nRUN %s\n", n, check),
			})
			_, stderr, code := kiln(t, root, "build", "--progress", "plain", dir)
			if strings.Contains(stderr, "ESCAPED") {
				t.Errorf("WORKDIR /proc/self/fd/%d: the RUN's cwd is outside the rootfs", n)
			} else if code != 0 && !strings.Contains(stderr, "working directory") {
				t.Errorf("WORKDIR /proc/self/fd/%d: got exit status %d, stderr %q; want success or a working directory error", n, code, stderr)
			}
			stdout, stderr, code := kiln(t, root, "run", "--rm", "-w", fmt.Sprintf("/proc/self/fd/%d", n), "marked", "sh", "-c", check)
			if strings.Contains(stdout, "ESCAPED") {
				t.Errorf("run -w /proc/self/fd/%d: the cwd is outside the rootfs", n)
			} else if code != 0 && !strings.Contains(stderr, "working directory") {
				t.Errorf("run -w /proc/self/fd/%d: got exit status %d, stderr %q; want success or a working directory error", n, code, stderr)
			}
		}(n)
	}
	wg.Wait()

	// No fd but stdio crosses exec: ls's own directory fd is the only extra.
	stdout, _ := mustKiln(t, root, "run", "--rm", "marked", "sh", "-c", "ls /proc/self/fd | tr '\\n' ' '")
	if got := strings.Fields(stdout); len(got) > 4 {
		t.Errorf("fds open in the container: got %v, want 0 1 2 and ls's own", got)
	}
	c.check(t)
}

// TestAttackMknod: a container keeps CAP_MKNOD (as under Docker), but a
// block device it makes is useless, and /dev holds the default devices only.
func TestAttackMknod(t *testing.T) {
	root := newBusyboxRoot(t)
	// A block device that exists on this host, readable by root here.
	dev := "8:0"
	if ents, err := os.ReadDir("/sys/dev/block"); err == nil && len(ents) > 0 {
		dev = ents[0].Name()
	}
	maj, min, _ := strings.Cut(dev, ":")
	script := fmt.Sprintf("mknod /sda b 8 0; mknod /host b %s %s; for d in /sda /host; do head -c 512 $d | wc -c | grep -qv '^ *0$' && echo read $d; done; ls /dev | tr '\\n' ' '", maj, min)
	dir := newContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN " + script + "\n"})
	log, _ := build(t, root, dir)
	runOut := strings.Join(log.step(t, "RUN mknod").output, "\n")
	stdout, _ := mustKiln(t, root, "run", "--rm", "busybox", "sh", "-c", script)
	want := "core fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero"
	for name, out := range map[string]string{"RUN": runOut, "kiln run": stdout} {
		if strings.Contains(out, "read /") {
			t.Errorf("%s: got %q, want no block device readable", name, out)
		}
		if !strings.Contains(out, want) {
			t.Errorf("%s: /dev: got %q, want %q", name, out, want)
		}
	}
}
