package executor

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// ioSetup wires a Spec's streams to the init child: plain pipes, or a pty.
type ioSetup struct {
	childEnds []*os.File    // closed in the parent once the child has them
	slave     *os.File      // the pty slave, with Tty
	master    *os.File      // the pty master, with Tty
	outDone   chan struct{} // closed when the master's output is drained
	restore   func()        // puts the caller's terminal back
	winch     chan os.Signal
}

func (s *ioSetup) pipes(cmd *exec.Cmd, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if stdin == nil {
		return nil
	}
	if f, ok := stdin.(*os.File); ok {
		cmd.Stdin = f
		return nil
	}
	// exec.Cmd would make Wait wait for stdin to reach EOF; our own pipe
	// lets Run return when the container does.
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd.Stdin = pr
	s.childEnds = append(s.childEnds, pr)
	go func() {
		_, _ = io.Copy(pw, stdin)
		pw.Close()
	}()
	return nil
}

func (s *ioSetup) tty(cmd *exec.Cmd, stdin io.Reader, stdout io.Writer) error {
	master, slave, err := openPty()
	if err != nil {
		return err
	}
	s.master, s.slave = master, slave
	s.childEnds = append(s.childEnds, slave)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr.Setsid = true
	cmd.SysProcAttr.Setctty = true
	cmd.SysProcAttr.Ctty = 0

	// The window size comes from whichever of our streams is a terminal.
	sizeFrom := -1
	if f, ok := stdin.(*os.File); ok && isTerminal(int(f.Fd())) {
		sizeFrom = int(f.Fd())
		restore, err := makeRaw(sizeFrom)
		if err != nil {
			return err
		}
		s.restore = restore
	} else if f, ok := stdout.(*os.File); ok && isTerminal(int(f.Fd())) {
		sizeFrom = int(f.Fd())
	}
	if sizeFrom >= 0 {
		resize := func() {
			if ws, err := unix.IoctlGetWinsize(sizeFrom, unix.TIOCGWINSZ); err == nil {
				_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws)
			}
		}
		resize()
		s.winch = make(chan os.Signal, 1)
		signal.Notify(s.winch, syscall.SIGWINCH)
		go func(ch chan os.Signal) {
			for range ch {
				resize()
			}
		}(s.winch)
	}
	if stdin != nil {
		go func() { _, _ = io.Copy(master, stdin) }()
	}
	if stdout == nil {
		stdout = io.Discard
	}
	s.outDone = make(chan struct{})
	go func() {
		// Ends with EIO once the last slave fd is closed.
		_, _ = io.Copy(stdout, master)
		close(s.outDone)
	}()
	return nil
}

func (s *ioSetup) started() {
	for _, f := range s.childEnds {
		f.Close()
	}
	s.childEnds = nil
}

// wait waits for the container's output to be copied out.
func (s *ioSetup) wait() {
	s.started()
	if s.outDone != nil {
		<-s.outDone
	}
}

func (s *ioSetup) close() {
	s.started()
	if s.winch != nil {
		signal.Stop(s.winch)
		close(s.winch)
	}
	if s.restore != nil {
		s.restore()
	}
	if s.master != nil {
		s.master.Close()
	}
}

func openPty() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open pty: %w", err)
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("open pty slave: %w", err)
	}
	return master, slave, nil
}

func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// makeRaw puts fd in raw mode as cfmakeraw(3) does and returns the undo.
func makeRaw(fd int) (func(), error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, fmt.Errorf("get terminal mode: %w", err)
	}
	t := *old
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &t); err != nil {
		return nil, fmt.Errorf("set raw mode: %w", err)
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}
