package container

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseRestartPolicy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want RestartPolicy
		bad  bool
	}{
		{in: "", want: RestartPolicy{Name: "no"}},
		{in: "no", want: RestartPolicy{Name: "no"}},
		{in: "always", want: RestartPolicy{Name: "always"}},
		{in: "on-failure", want: RestartPolicy{Name: "on-failure"}},
		{in: "on-failure:3", want: RestartPolicy{Name: "on-failure", MaxRetries: 3}},
		{in: "on-failure:x", bad: true},
		{in: "on-failure:-1", bad: true},
		{in: "always:2", bad: true},
		{in: "sometimes", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRestartPolicy(tc.in)
			if tc.bad {
				if err == nil {
					t.Fatalf("got %+v, want an error", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestShouldRestart(t *testing.T) {
	p := RestartPolicy{Name: "on-failure", MaxRetries: 2}
	for _, tc := range []struct {
		code, restarts int
		want           bool
	}{{0, 0, false}, {1, 0, true}, {1, 1, true}, {1, 2, false}} {
		if got := p.ShouldRestart(tc.code, tc.restarts); got != tc.want {
			t.Errorf("on-failure:2 after exit %d, %d restarts: got %v, want %v", tc.code, tc.restarts, got, tc.want)
		}
	}
	if !(RestartPolicy{Name: "always"}).ShouldRestart(0, 100) {
		t.Error("always after exit 0: got false, want true")
	}
	if (RestartPolicy{Name: "no"}).ShouldRestart(1, 0) {
		t.Error("no after exit 1: got true, want false")
	}
}

func TestStoreCreateGetRemove(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Create(Config{Name: "web", Image: "busybox", Args: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Config.ID) != 64 || a.State.Status != Created {
		t.Fatalf("got %+v, want a 64-digit ID, created", a)
	}
	for _, d := range []string{a.UpperDir(), a.WorkDir()} {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			t.Errorf("%s: got %v, want a directory", d, err)
		}
	}
	if _, err := s.Create(Config{Name: "web"}); !errors.Is(err, ErrNameInUse) {
		t.Errorf("second web: got %v, want ErrNameInUse", err)
	}
	if _, err := s.Create(Config{Name: "-bad"}); !errors.Is(err, ErrInvalidName) {
		t.Errorf("-bad: got %v, want ErrInvalidName", err)
	}
	b, err := s.Create(Config{Created: time.Now().Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if b.Config.Name == "" || !ValidName(b.Config.Name) {
		t.Errorf("generated name %q: want a valid one", b.Config.Name)
	}
	for _, ref := range []string{"web", a.Config.ID, a.Config.ID[:10]} {
		got, err := s.Get(ref)
		if err != nil || got.Config.ID != a.Config.ID {
			t.Errorf("Get(%q): got %v, %v; want web", ref, got, err)
		}
	}
	if _, err := s.Get("nosuch"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(nosuch): got %v, want ErrNotFound", err)
	}
	if _, err := s.Get("../x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(../x): got %v, want ErrNotFound", err)
	}
	all, err := s.List()
	if err != nil || len(all) != 2 || all[0].Config.ID != b.Config.ID {
		t.Fatalf("List: got %d, %v; want 2, newest first", len(all), err)
	}
	if err := s.Remove(a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("web"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Remove: got %v, want ErrNotFound", err)
	}
	if _, err := s.Create(Config{Name: "web"}); err != nil {
		t.Errorf("web after its Remove: %v, want the name free", err)
	}
}

func TestReconcile(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "r"})
	if err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	start, err := ProcessStartTime(self)
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, tc := range []struct {
		name        string
		state       State
		want        Status
		wantCode    int
		wantSettled bool
	}{
		{"alive", State{Status: Running, Pid: self, StartTime: start}, Running, 0, false},
		{"pid reused", State{Status: Running, Pid: self, StartTime: start + 1}, Exited, KilledCode, true},
		{"gone, supervisor alive", State{Status: Running, Pid: 1 << 30, SupervisorPid: self, SupervisorStart: start}, Exited, 0, false},
		{"restarting", State{Status: Restarting, ExitCode: 3, SupervisorPid: self, SupervisorStart: start}, Restarting, 3, false},
		{"restarting, supervisor dead", State{Status: Restarting, ExitCode: 3}, Exited, KilledCode, true},
		{"exited", State{Status: Exited, ExitCode: 5}, Exited, 5, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.State = tc.state
			if err := c.SaveState(); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get("r")
			if err != nil {
				t.Fatal(err)
			}
			if got.State.Status != tc.want || got.State.ExitCode != tc.wantCode || got.Settled() != tc.wantSettled {
				t.Errorf("got %s (%d), settled %v; want %s (%d), settled %v",
					got.State.Status, got.State.ExitCode, got.Settled(), tc.want, tc.wantCode, tc.wantSettled)
			}
		})
	}
}

func TestParseStartTime(t *testing.T) {
	line := "42 (a (weird) name) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615\n"
	got, err := parseStartTime([]byte(line))
	if err != nil || got != 987654 {
		t.Errorf("got %d, %v; want 987654", got, err)
	}
	if _, err := parseStartTime([]byte("42 (x) S 1")); err == nil {
		t.Error("short line: got no error, want one")
	}
}

func TestLog(t *testing.T) {
	p := t.TempDir() + "/ctr.log"
	l, err := OpenLog(p)
	if err != nil {
		t.Fatal(err)
	}
	out, errw := l.Stream("stdout"), l.Stream("stderr")
	out.Write([]byte("one\ntw"))
	errw.Write([]byte("bad\n"))
	out.Write([]byte("o\npartial"))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []string
	if _, err := ReadLog(f, func(e LogEntry) error {
		if e.Time.IsZero() {
			t.Errorf("entry %q has no time", e.Log)
		}
		got = append(got, e.Stream+":"+e.Log)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := "stdout:one\n|stderr:bad\n|stdout:two\n|stdout:partial"
	if g := strings.Join(got, "|"); g != want {
		t.Errorf("got %q, want %q", g, want)
	}
}
