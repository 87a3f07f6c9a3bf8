package main

import (
	"syscall"
	"testing"
	"time"

	"github.com/kiln-build/kiln/container"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{
		"TERM": syscall.SIGTERM, "SIGKILL": syscall.SIGKILL, "sigusr1": syscall.SIGUSR1, "15": syscall.SIGTERM,
	} {
		if got, err := parseSignal(in); err != nil || got != want {
			t.Errorf("parseSignal(%q): got %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "NOSUCH", "0", "999"} {
		if _, err := parseSignal(in); err == nil {
			t.Errorf("parseSignal(%q): got no error, want one", in)
		}
	}
}

func TestStatusText(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		st   container.State
		want string
	}{
		{container.State{Status: container.Created}, "Created"},
		{container.State{Status: container.Running, StartedAt: now.Add(-3 * time.Second)}, "Up 3 seconds"},
		{container.State{Status: container.Paused, StartedAt: now.Add(-90 * time.Second)}, "Up About a minute (Paused)"},
		{container.State{Status: container.Exited, ExitCode: 0, FinishedAt: now.Add(-2 * time.Second)}, "Exited (0) 2 seconds ago"},
		{container.State{Status: container.Exited, ExitCode: 137}, "Exited (137)"},
	} {
		c := &container.Container{State: tc.st}
		if got := statusText(c, now); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
