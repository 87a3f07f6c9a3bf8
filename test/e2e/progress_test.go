package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// plainLog is kiln build's plain progress, parsed: BuildKit-like lines
// "#N <step name>" when a step first appears, then "#N CACHED",
// "#N DONE 0.3s", "#N ERROR: …" and output lines "#N 0.123 <line>".
type plainLog struct {
	steps []*plainStep
	text  string
}

type plainStep struct {
	n      int
	name   string
	cached bool
	done   bool
	err    string
	// rebuilt is why the step was not cached ("#N REBUILT: …"), if said.
	rebuilt string
	output  []string
	// header and end are the indexes in the log of the step's first line
	// and of its DONE (or ERROR) line, -1 when absent.
	header, end int
}

func parsePlain(stderr string) *plainLog {
	p := &plainLog{text: stderr}
	byN := map[int]*plainStep{}
	for i, line := range strings.Split(stderr, "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		num, rest, _ := strings.Cut(line[1:], " ")
		n, err := strconv.Atoi(num)
		if err != nil {
			continue
		}
		s, ok := byN[n]
		if !ok {
			s = &plainStep{n: n, name: rest, header: i, end: -1}
			byN[n] = s
			p.steps = append(p.steps, s)
			continue
		}
		switch {
		case rest == "CACHED":
			s.cached = true
		case strings.HasPrefix(rest, "DONE"):
			s.done, s.end = true, i
		case strings.HasPrefix(rest, "REBUILT:"):
			s.rebuilt = strings.TrimSpace(strings.TrimPrefix(rest, "REBUILT:"))
		case strings.HasPrefix(rest, "ERROR:"):
			s.err, s.end = strings.TrimSpace(strings.TrimPrefix(rest, "ERROR:")), i
		default:
			// "0.123 text": drop the timestamp.
			if ts, text, ok := strings.Cut(rest, " "); ok && isSeconds(ts) {
				rest = text
			} else if isSeconds(rest) {
				rest = ""
			}
			s.output = append(s.output, rest)
		}
	}
	return p
}

func isSeconds(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// step returns the one step whose name contains substr, failing the test
// when there is none or more than one.
func (p *plainLog) step(t *testing.T, substr string) *plainStep {
	t.Helper()
	var found []*plainStep
	for _, s := range p.steps {
		if strings.Contains(s.name, substr) {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("progress: got %d steps named like %q, want 1; progress:\n%s", len(found), substr, p.text)
	}
	return found[0]
}

// buildSteps are the steps that do work (RUN, COPY, ADD), as opposed to
// loading a base image.
func (p *plainLog) buildSteps() []*plainStep {
	var out []*plainStep
	for _, s := range p.steps {
		if strings.Contains(s.name, "RUN ") || strings.Contains(s.name, "COPY ") || strings.Contains(s.name, "ADD ") {
			out = append(out, s)
		}
	}
	return out
}

func (s *plainStep) String() string {
	state := "started"
	switch {
	case s.cached:
		state = "CACHED"
	case s.done:
		state = "DONE"
	case s.err != "":
		state = "ERROR"
	}
	return fmt.Sprintf("#%d %s (%s)", s.n, s.name, state)
}

// wantCached fails unless the step named like substr was taken from the
// cache and did not run.
func (p *plainLog) wantCached(t *testing.T, substr string) {
	t.Helper()
	s := p.step(t, substr)
	if !s.cached || s.done {
		t.Errorf("step %s: got cached=%v done=%v, want CACHED and no DONE; progress:\n%s", s, s.cached, s.done, p.text)
	}
}

// wantRan fails unless the step named like substr ran (DONE, not CACHED).
func (p *plainLog) wantRan(t *testing.T, substr string) {
	t.Helper()
	s := p.step(t, substr)
	if s.cached || !s.done {
		t.Errorf("step %s: got cached=%v done=%v, want DONE and no CACHED; progress:\n%s", s, s.cached, s.done, p.text)
	}
}

func TestParsePlain(t *testing.T) {
	log := parsePlain(`#1 [internal] FROM busybox
#1 CACHED
#2 [2/3] RUN echo hi
#2 0.012 hi
#2 0.013 two words
#2 DONE 0.1s
#3 [3/3] RUN exit 1
#3 ERROR: exit code 1
writing image sha256:00
`)
	got := make([]string, len(log.steps))
	for i, s := range log.steps {
		got[i] = s.String()
	}
	want := []string{"#1 [internal] FROM busybox (CACHED)", "#2 [2/3] RUN echo hi (DONE)", "#3 [3/3] RUN exit 1 (ERROR)"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("steps: got %q, want %q", got, want)
	}
	if out := strings.Join(log.steps[1].output, "|"); out != "hi|two words" {
		t.Errorf("output: got %q, want %q", out, "hi|two words")
	}
	if s := log.steps[2]; s.err != "exit code 1" || s.end != 7 || s.header != 6 {
		t.Errorf("error step: got err=%q header=%d end=%d, want %q 6 7", s.err, s.header, s.end, "exit code 1")
	}
	if n := len(log.buildSteps()); n != 2 {
		t.Errorf("buildSteps: got %d, want 2", n)
	}
}
