package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/container"
)

// containers opens the containers/ directory of the store. It does not open
// the image store: the lifecycle verbs need no lock on it.
func (g *globals) containers() (*container.Store, error) {
	root, err := filepath.Abs(g.root)
	if err != nil {
		return nil, err
	}
	return container.Open(filepath.Join(root, "containers"))
}

// getContainer opens the store and finds ref (name, ID or ID prefix).
func (g *globals) getContainer(ref string) (*container.Store, *container.Container, error) {
	cs, err := g.containers()
	if err != nil {
		return nil, nil, err
	}
	c, err := cs.Get(ref)
	if err != nil {
		return nil, nil, err
	}
	return cs, c, nil
}

// eachContainer finds every ref and calls fn on it, printing the ref once
// done as Docker does; it stops at the first failure.
func eachContainer(g *globals, refs []string, fn func(*container.Container) error) error {
	for _, ref := range refs {
		_, ctr, err := g.getContainer(ref)
		if err != nil {
			return err
		}
		if err := fn(ctr); err != nil {
			return err
		}
		fmt.Println(ref)
	}
	return nil
}

// parseSignal takes "TERM", "SIGTERM", "sigterm" or "15".
func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("invalid signal %q", s)
}

// stopMarker, while it exists, tells the supervisor that the container was
// stopped on purpose: its restart policy does not apply.
func stopMarker(c *container.Container) string { return filepath.Join(c.Dir(), "stopped") }

// signalContainer sends sig to the container's process, checking first that
// its pid still names it.
func signalContainer(c *container.Container, sig syscall.Signal) error {
	if !container.Alive(c.State.Pid, c.State.StartTime) {
		return fmt.Errorf("container %s is not running", c.Config.Name)
	}
	if err := syscall.Kill(c.State.Pid, sig); err != nil {
		return fmt.Errorf("signal container %s: %w", c.Config.Name, err)
	}
	return nil
}

// waitSettled waits until c has exited and its supervisor has recorded it
// (or died), or until timeout; it reports whether it settled.
func waitSettled(c *container.Container, timeout time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	for {
		if err := c.Reload(); err != nil {
			if errors.Is(err, container.ErrNotFound) {
				return true, nil // removed by its supervisor (--rm)
			}
			return false, err
		}
		if c.Settled() {
			return true, nil
		}
		if timeout >= 0 && time.Now().After(deadline) {
			return false, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitGone waits until the container's process is gone, or timeout.
func waitGone(c *container.Container, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for container.Alive(c.State.Pid, c.State.StartTime) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// stopContainer stops c as docker stop does: its stop signal, then SIGKILL
// after timeout; then it waits for the exit to be recorded.
func stopContainer(c *container.Container, timeout time.Duration) error {
	if err := os.WriteFile(stopMarker(c), nil, 0o644); err != nil {
		return fmt.Errorf("stop container %s: %w", c.Config.Name, err)
	}
	if c.State.Status == container.Restarting {
		_, err := waitSettled(c, 10*time.Second)
		return err
	}
	if !c.IsRunning() {
		return nil
	}
	sig := syscall.SIGTERM
	if c.Config.StopSignal != "" {
		s, err := parseSignal(c.Config.StopSignal)
		if err != nil {
			return fmt.Errorf("container %s: STOPSIGNAL: %w", c.Config.Name, err)
		}
		sig = s
	}
	paused := c.State.Status == container.Paused
	if err := signalContainer(c, sig); err == nil {
		if paused {
			// The signal waits in the frozen process until it thaws.
			_ = container.Thaw(c.Config.ID)
		}
		if !waitGone(c, timeout) {
			_ = signalContainer(c, syscall.SIGKILL)
		}
	}
	if !waitGone(c, 10*time.Second) {
		return fmt.Errorf("container %s: still running 10s after SIGKILL", c.Config.Name)
	}
	_, err := waitSettled(c, 5*time.Second)
	return err
}

// humanDuration is Docker's wording for how long ago or how long for.
func humanDuration(d time.Duration) string {
	s := int(d.Seconds())
	switch {
	case s < 1:
		return "Less than a second"
	case s == 1:
		return "1 second"
	case s < 60:
		return fmt.Sprintf("%d seconds", s)
	case d.Minutes() < 2:
		return "About a minute"
	case d.Minutes() < 60:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	case d.Hours() < 2:
		return "About an hour"
	case d.Hours() < 48:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	case d.Hours() < 24*7*2:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d.Hours() < 24*30*2:
		return fmt.Sprintf("%d weeks", int(d.Hours()/24/7))
	case d.Hours() < 24*365*2:
		return fmt.Sprintf("%d months", int(d.Hours()/24/30))
	}
	return fmt.Sprintf("%d years", int(d.Hours()/24/365))
}

// statusText is the STATUS column of docker ps.
func statusText(c *container.Container, now time.Time) string {
	st := c.State
	switch st.Status {
	case container.Running:
		return "Up " + humanDuration(now.Sub(st.StartedAt))
	case container.Paused:
		return "Up " + humanDuration(now.Sub(st.StartedAt)) + " (Paused)"
	case container.Restarting:
		return fmt.Sprintf("Restarting (%d) %s ago", st.ExitCode, humanDuration(now.Sub(st.FinishedAt)))
	case container.Exited:
		if st.FinishedAt.IsZero() {
			return fmt.Sprintf("Exited (%d)", st.ExitCode)
		}
		return fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, humanDuration(now.Sub(st.FinishedAt)))
	}
	return "Created"
}
