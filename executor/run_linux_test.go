package executor

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// run runs a shell script in a fresh rootfs over base, returning stdout.
func run(t *testing.T, s Spec) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	if s.Stdout == nil {
		s.Stdout = &out
	}
	if s.Stderr == nil {
		s.Stderr = &errb
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := New().Run(ctx, s)
	if errb.Len() > 0 {
		t.Logf("stderr: %s", errb.String())
	}
	return out.String(), err
}

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

func mustRun(t *testing.T, s Spec) string {
	t.Helper()
	out, err := run(t, s)
	if err != nil {
		t.Fatalf("run %q: %v", s.Args, err)
	}
	return out
}

func upperEntries(t *testing.T, upper string) []string {
	t.Helper()
	var names []string
	err := filepath.Walk(upper, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p != upper {
			rel, _ := filepath.Rel(upper, p)
			names = append(names, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestRunEcho(t *testing.T) {
	base := busybox(t)
	got := mustRun(t, Spec{Rootfs: rootfs(t, base), Args: []string{"echo", "hello", "world"}})
	if got != "hello world\n" {
		t.Errorf("got %q, want %q", got, "hello world\n")
	}
}

func TestRunStdin(t *testing.T) {
	base := busybox(t)
	got := mustRun(t, Spec{Rootfs: rootfs(t, base), Args: []string{"cat"}, Stdin: strings.NewReader("from stdin")})
	if got != "from stdin" {
		t.Errorf("got %q, want %q", got, "from stdin")
	}
}

func TestRunExitCode(t *testing.T) {
	base := busybox(t)
	_, err := run(t, Spec{Rootfs: rootfs(t, base), Args: sh("exit 3")})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Fatalf("got %v, want exit code 3", err)
	}
	if err.Error() != "exit code 3" {
		t.Errorf("got message %q, want %q", err.Error(), "exit code 3")
	}
}

// A process killed by a signal reports 128+signal. PID 1 of a namespace
// ignores signals it has no handler for (so `kill -9 $$` from inside does
// nothing, as under Docker); SIGKILL from outside always works.
func TestRunSignalExit(t *testing.T) {
	base := busybox(t)
	sigs := make(chan os.Signal, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		sigs <- syscall.SIGKILL
	}()
	_, err := run(t, Spec{Rootfs: rootfs(t, base), Args: []string{"sleep", "100"}, Signals: sigs})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 137 {
		t.Fatalf("got %v, want exit code 137", err)
	}
	// A process that is not PID 1 dies of its own signal; the outer shell
	// reports it as 128+15.
	_, err = run(t, Spec{Rootfs: rootfs(t, base), Args: sh(`sh -c 'kill -TERM $$'; exit $?`)})
	if !errors.As(err, &ee) || ee.Code != 128+int(syscall.SIGTERM) {
		t.Fatalf("got %v, want exit code %d", err, 128+int(syscall.SIGTERM))
	}
}

func TestRunCommandNotFound(t *testing.T) {
	base := busybox(t)
	for _, tc := range []struct{ arg, want string }{
		{"nosuchcmd", `exec "nosuchcmd": executable file not found in $PATH`},
		{"/bin/nosuch", `exec "/bin/nosuch": no such file or directory`},
	} {
		_, err := run(t, Spec{Rootfs: rootfs(t, base), Args: []string{tc.arg}})
		if !errors.Is(err, ErrExecNotFound) || err.Error() != tc.want {
			t.Errorf("got %v, want %q wrapping ErrExecNotFound", err, tc.want)
		}
	}
}

func TestRunPIDNamespace(t *testing.T) {
	base := busybox(t)
	got := mustRun(t, Spec{Rootfs: rootfs(t, base), Args: sh(`echo $$; ls /proc | grep -c '^[0-9]'`)})
	lines := strings.Fields(got)
	if len(lines) != 2 || lines[0] != "1" {
		t.Fatalf("got %q, want pid 1 and a process count", got)
	}
	// sh, plus ls and grep of the pipeline.
	if n, _ := strconv.Atoi(lines[1]); n < 1 || n > 3 {
		t.Errorf("got %d processes in /proc, want at most 3", n)
	}
}

func TestRunHostname(t *testing.T) {
	base := busybox(t)
	got := mustRun(t, Spec{Rootfs: rootfs(t, base), Hostname: "buildbox", Args: sh("hostname; cat /etc/hostname; grep -c buildbox /etc/hosts")})
	if got != "buildbox\nbuildbox\n1\n" {
		t.Errorf("got %q, want hostname buildbox everywhere", got)
	}
}

func TestRunHostInvisible(t *testing.T) {
	base := busybox(t)
	marker, err := os.CreateTemp("", "kiln-marker-")
	if err != nil {
		t.Fatal(err)
	}
	marker.Close()
	defer os.Remove(marker.Name())
	rfs := rootfs(t, base)
	got := mustRun(t, Spec{Rootfs: rfs, Args: sh("ls " + marker.Name() + " 2>/dev/null || echo invisible; ls /")})
	lines := strings.Fields(got)
	if len(lines) == 0 || lines[0] != "invisible" {
		t.Fatalf("got %q, want the host's marker invisible", got)
	}
	root := lines[1:]
	sort.Strings(root)
	want := []string{"bin", "dev", "etc", "proc", "sys"}
	if strings.Join(root, " ") != strings.Join(want, " ") {
		t.Errorf("got / = %v, want %v", root, want)
	}
}

func TestRunWritesLandInUpper(t *testing.T) {
	base := busybox(t)
	rfs := rootfs(t, base)
	mustRun(t, Spec{Rootfs: rfs, Args: sh("echo data > /newfile; rm /bin/ls")})
	if b, err := os.ReadFile(filepath.Join(rfs.Upper, "newfile")); err != nil || string(b) != "data\n" {
		t.Errorf("got %q, %v in upper, want %q", b, err, "data\n")
	}
	if fi, err := os.Lstat(filepath.Join(rfs.Upper, "bin/ls")); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("got %v, %v for bin/ls in upper, want a whiteout", fi, err)
	}
	if _, err := os.Lstat(filepath.Join(base, "bin/ls")); err != nil {
		t.Errorf("lower changed: %v", err)
	}
}

func TestRunTrueLeavesUpperEmpty(t *testing.T) {
	base := busybox(t)
	// Without /etc in the image, the stubs include /etc itself.
	bare := filepath.Join(t.TempDir(), "bare")
	if err := os.MkdirAll(filepath.Join(bare, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(base, "bin/busybox"))
	if err := os.WriteFile(filepath.Join(bare, "bin/true"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, lower := range map[string][]string{"busybox": {base}, "no etc": {bare}} {
		t.Run(name, func(t *testing.T) {
			rfs := rootfs(t, lower...)
			mustRun(t, Spec{Rootfs: rfs, Args: []string{"/bin/true"}})
			if got := upperEntries(t, rfs.Upper); len(got) != 0 {
				t.Errorf("got upper %v, want it empty", got)
			}
		})
	}
}

func TestRunEtcFiles(t *testing.T) {
	base := busybox(t)
	rfs := rootfs(t, base)
	got := mustRun(t, Spec{Rootfs: rfs, Args: sh("grep -q localhost /etc/hosts && grep -q nameserver /etc/resolv.conf && test -s /etc/hostname && echo ok; touch /etc/other")})
	if got != "ok\n" {
		t.Errorf("got %q, want ok", got)
	}
	for _, f := range []string{"hosts", "resolv.conf", "hostname"} {
		if _, err := os.Lstat(filepath.Join(rfs.Upper, "etc", f)); err == nil {
			t.Errorf("etc/%s landed in upper", f)
		}
	}
	if _, err := os.Lstat(filepath.Join(rfs.Upper, "etc/other")); err != nil {
		t.Errorf("etc/other missing from upper: %v", err)
	}
}

func TestRunNetworkNone(t *testing.T) {
	base := busybox(t)
	got := mustRun(t, Spec{Rootfs: rootfs(t, base), Network: "none", Args: sh("tail -n +3 /proc/net/dev | cut -d: -f1; cat /sys/class/net/lo/flags")})
	f := strings.Fields(got)
	if len(f) != 2 || f[0] != "lo" {
		t.Fatalf("got %q, want only lo", got)
	}
	flags, err := strconv.ParseUint(strings.TrimPrefix(f[1], "0x"), 16, 32)
	if err != nil || flags&syscall.IFF_UP == 0 {
		t.Errorf("got lo flags %q, want IFF_UP", f[1])
	}
}

func TestRunUser(t *testing.T) {
	base := busybox(t)
	for _, tc := range []struct{ user, want string }{
		{"", "0 0 0 /root"},
		{"alice", "1000 1000 1000 10 50 /home/alice"},
		{"1000", "1000 1000 1000 10 50 /home/alice"},
		{"1000:50", "1000 50 50 /home/alice"},
		{"alice:wheel", "1000 10 10 /home/alice"},
		{"bob:1234", "1001 1234 1234 /home/bob"},
		{"4242", "4242 0 0 /"},
		{"4242:4243", "4242 4243 4243 /"},
	} {
		t.Run(tc.user, func(t *testing.T) {
			got := mustRun(t, Spec{Rootfs: rootfs(t, base), User: tc.user, Args: sh("echo $(id -u) $(id -g) $(id -G) $HOME")})
			if strings.TrimSpace(got) != tc.want {
				t.Errorf("got %q, want %q", strings.TrimSpace(got), tc.want)
			}
		})
	}
}

func TestRunUnknownUser(t *testing.T) {
	base := busybox(t)
	for _, user := range []string{"mallory", "alice:nogroupnamed"} {
		_, err := run(t, Spec{Rootfs: rootfs(t, base), User: user, Args: []string{"true"}})
		name := strings.TrimPrefix(user, "alice:")
		if !errors.Is(err, ErrUnknownUser) || !strings.Contains(err.Error(), `"`+name+`"`) {
			t.Errorf("user %q: got %v, want ErrUnknownUser naming %q", user, err, name)
		}
	}
}

func TestRunCwd(t *testing.T) {
	base := busybox(t)
	rfs := rootfs(t, base)
	got := mustRun(t, Spec{Rootfs: rfs, Cwd: "/work/dir", User: "alice", Args: []string{"pwd"}})
	if got != "/work/dir\n" {
		t.Errorf("got %q, want /work/dir", got)
	}
	fi, err := os.Stat(filepath.Join(rfs.Upper, "work/dir"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("got %v, %v for work/dir in upper, want a 0755 dir", fi, err)
	}
}

func TestRunEnv(t *testing.T) {
	base := busybox(t)
	got := mustRun(t, Spec{Rootfs: rootfs(t, base), Env: []string{"FOO=bar"}, Args: sh("echo $PATH $HOME $FOO")})
	want := defaultPath + " /root bar\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got = mustRun(t, Spec{Rootfs: rootfs(t, base), Env: []string{"PATH=/bin", "HOME=/h"}, Args: sh("echo $PATH $HOME")})
	if got != "/bin /h\n" {
		t.Errorf("got %q, want %q", got, "/bin /h\n")
	}
}

func TestRunDevAndSys(t *testing.T) {
	base := busybox(t)
	got := mustRun(t, Spec{Rootfs: rootfs(t, base), User: "alice", Args: sh(`
echo x > /dev/null && echo null
head -c 5 /dev/zero | wc -c
head -c 5 /dev/urandom | wc -c
echo x > /dev/full 2>/dev/null || echo full
test -L /dev/fd && test -c /dev/pts/ptmx && test -d /dev/shm && echo links
touch /sys/x 2>/dev/null || echo sys-ro
grep -q ' /sys sysfs ro' /proc/mounts && echo sys-mount-ro
`)})
	want := "null\n5\n5\nfull\nlinks\nsys-ro\nsys-mount-ro\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRunCancel(t *testing.T) {
	base := busybox(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("stop it")
	go func() {
		time.Sleep(300 * time.Millisecond)
		cancel(stop)
	}()
	start := time.Now()
	err := New().Run(ctx, Spec{Rootfs: rootfs(t, base), Args: []string{"sleep", "100"}})
	if !errors.Is(err, stop) {
		t.Errorf("got %v, want the cancel cause", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v to stop", d)
	}
}

// The parent never mounts: while the container runs and after, this
// process's mount table knows nothing of the run's temp dir.
func TestRunNoMountsInParent(t *testing.T) {
	base := busybox(t)
	var mu sync.Mutex
	var dirs []string
	r := New(WithTempDir(func(pattern string) (string, error) {
		d, err := os.MkdirTemp("", pattern)
		mu.Lock()
		dirs = append(dirs, d)
		mu.Unlock()
		return d, err
	}))
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- r.Run(context.Background(), Spec{Rootfs: rootfs(t, base), Args: sh("echo up; sleep 1"), Stdout: pw})
		pw.Close()
	}()
	buf := make([]byte, 3)
	if _, err := io.ReadFull(pr, buf); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		mi, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, d := range dirs {
			if strings.Contains(string(mi), d) {
				t.Errorf("%s: mount of %s in the parent's mount table", when, d)
			}
		}
	}
	check("while running")
	go io.Copy(io.Discard, pr)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	check("after Run")
	for _, d := range dirs {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("temp dir %s left behind", d)
		}
	}
}

func TestRunSignalForwarding(t *testing.T) {
	base := busybox(t)
	sigs := make(chan os.Signal, 1)
	pr, pw := io.Pipe()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- New().Run(context.Background(), Spec{
			Rootfs: rootfs(t, base), Stdout: pw, Signals: sigs,
			Args: sh(`trap 'echo got USR1; exit 7' USR1; echo ready; while :; do sleep 0.1; done`),
		})
		pw.Close()
	}()
	buf := make([]byte, 6)
	if _, err := io.ReadFull(pr, buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("got %q, %v, want ready", buf, err)
	}
	sigs <- syscall.SIGUSR1
	io.Copy(&out, pr)
	err := <-done
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 7 || out.String() != "got USR1\n" {
		t.Errorf("got %v and %q, want exit code 7 and the trap's output", err, out.String())
	}
}

func TestRunTty(t *testing.T) {
	base := busybox(t)
	got := mustRun(t, Spec{Rootfs: rootfs(t, base), Tty: true, Args: sh(`test -t 0 && test -t 1 && echo tty; echo $TERM; test -c /dev/console && echo console`)})
	// The pty turns \n into \r\n.
	got = strings.ReplaceAll(got, "\r", "")
	if got != "tty\nxterm\nconsole\n" {
		t.Errorf("got %q, want tty, xterm and console", got)
	}
}

// TestRunVolatile: a Volatile rootfs is mounted volatile, keeps what the
// command wrote, and can be run again, as a --rm container whose
// supervisor was killed is started again.
func TestRunVolatile(t *testing.T) {
	base := busybox(t)
	r := rootfs(t, base)
	r.Volatile = true
	out := mustRun(t, Spec{Rootfs: r, Args: sh("grep -c ' / .*volatile' /proc/self/mountinfo; echo hi > /note")})
	if strings.TrimSpace(out) != "1" {
		t.Errorf("volatile in the root's mount options: got %q lines, want 1", out)
	}
	if _, err := os.Stat(filepath.Join(r.Work, "work", "incompat", "volatile")); err != nil {
		t.Skipf("no volatile marker (%v): this kernel has no volatile overlay", err)
	}
	if got := mustRun(t, Spec{Rootfs: r, Args: []string{"cat", "/note"}}); got != "hi\n" {
		t.Errorf("second run: got %q, want the first one's file", got)
	}
}
