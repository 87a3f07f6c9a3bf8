package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: the controlling side for the test,
// the terminal for the process.
func openPTY(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		ptmx.Close()
		t.Fatalf("TIOCGPTN: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		ptmx.Close()
		t.Fatalf("unlock pty: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		ptmx.Close()
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 77}); err != nil {
		t.Fatal(err)
	}
	return ptmx, tty
}

// kiln run -t on a terminal gives the container a terminal of the same
// size, and the container's exit status is still kiln's.
func TestRunTTY(t *testing.T) {
	root := newBusyboxRoot(t)
	term := startOnTerminal(t, root, "run", "--rm", "-i", "-t", "busybox", "sh", "-c",
		"test -t 0 && echo stdin-is-a-tty; test -t 1 && echo stdout-is-a-tty; stty size; exit 5")
	err := term.wait()
	got := term.output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 5 {
		t.Errorf("run -it … exit 5: got %v, want exit status 5; output:\n%s", err, got)
	}
	checkNoStackTrace(t, []string{"run", "-it"}, got)
	for _, want := range []string{"stdin-is-a-tty\n", "stdout-is-a-tty\n", "33 77\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("run -it: got output %q, want %q in it", got, want)
		}
	}
}

// terminal is kiln running on a pseudo-terminal of 33x77, as under a shell:
// a session leader with the terminal as its controlling one.
type terminal struct {
	cmd    *exec.Cmd
	ptmx   *os.File // the controlling side, the test's
	mu     sync.Mutex
	out    bytes.Buffer
	copied chan struct{} // closed once every holder of the terminal closed it
}

// startOnTerminal starts kiln with args against root on a new terminal.
func startOnTerminal(t *testing.T, root string, args ...string) *terminal {
	t.Helper()
	ptmx, tty := openPTY(t)
	t.Cleanup(func() { ptmx.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	term := &terminal{cmd: kilnCommand(ctx, root, args...), ptmx: ptmx, copied: make(chan struct{})}
	term.cmd.Stdin, term.cmd.Stdout, term.cmd.Stderr = tty, tty, tty
	term.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := term.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	go func() {
		// Reading the controlling side ends with EIO once every holder of
		// the terminal has closed it.
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			term.mu.Lock()
			term.out.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				close(term.copied)
				return
			}
		}
	}()
	return term
}

// output is what kiln wrote so far, without the terminal's carriage returns.
func (term *terminal) output() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return strings.ReplaceAll(term.out.String(), "\r", "")
}

// wait waits for kiln, then (briefly) for the last of its output.
func (term *terminal) wait() error {
	err := term.cmd.Wait()
	select {
	case <-term.copied:
	case <-time.After(2 * time.Second):
	}
	return err
}

// -t when stdin is not a terminal must not hang: Docker refuses ("the input
// device is not a TTY"); at the least, the end of the input must end the
// container.
func TestRunTTYWithoutTerminal(t *testing.T) {
	root := newBusyboxRoot(t)
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	cmd := kilnCommand(ctx, root, "run", "--rm", "-i", "-t", "busybox", "cat")
	cmd.Stdin = strings.NewReader("piped\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("echo piped | kiln run -i -t busybox cat: got no exit after 15 s, want an error or the end of cat; output:\n%s", out.String())
	}
	checkNoStackTrace(t, []string{"run", "-it"}, out.String())
	// As Docker: refused up front, since the end of piped input could never
	// reach a terminal.
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 125 || !strings.Contains(out.String(), "the input device is not a TTY") {
		t.Errorf("echo piped | kiln run -i -t busybox cat: got %v and output %q, want exit status 125 and \"the input device is not a TTY\"", err, out.String())
	}
}

// kiln run passes the signals it gets on to the container's process, and
// exits with its status.
func TestRunForwardsSignals(t *testing.T) {
	root := newBusyboxRoot(t)
	out, code := signalWhen(t, root, "ready", syscall.SIGTERM, "run", "--rm", "busybox", "sh", "-c",
		`trap "echo got-term; exit 3" TERM; echo ready; while true; do sleep 0.1; done`)
	if code != 3 || !strings.Contains(out, "got-term") {
		t.Errorf("SIGTERM to kiln run: got exit status %d, output %q, want 3 and got-term", code, out)
	}
	checkNoLeftovers(t, "after SIGTERM of kiln run", root)
}

// Resizing kiln's terminal while the container runs resizes the
// container's (kiln forwards SIGWINCH's new size to its pty).
func TestRunTTYResize(t *testing.T) {
	root := newBusyboxRoot(t)
	term := startOnTerminal(t, root, "run", "--rm", "-i", "-t", "busybox", "sh", "-c",
		"stty size; read line; stty size")
	eventually(t, 20*time.Second, "the first stty size", func() bool { return strings.Contains(term.output(), "33 77\n") })
	// The kernel signals SIGWINCH to kiln, the terminal's foreground.
	if err := unix.IoctlSetWinsize(int(term.ptmx.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 41, Col: 101}); err != nil {
		t.Fatal(err)
	}
	// kiln handles the signal asynchronously: give it a moment before the
	// shell asks again.
	time.Sleep(300 * time.Millisecond)
	if _, err := term.ptmx.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	if err := term.wait(); err != nil {
		t.Errorf("run -it: %v; output:\n%s", err, term.output())
	}
	if got := term.output(); !strings.Contains(got, "41 101\n") {
		t.Errorf("after resizing kiln's terminal to 41x101: got output %q, want the container's stty size to say 41 101", got)
	}
}
