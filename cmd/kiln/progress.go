package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/solver"
)

// progress renders the solver's events: live on a terminal, as BuildKit's
// plain lines for CI logs, or not at all.
type progress struct {
	mode string // tty, plain or quiet
	out  io.Writer
	// explain also shows "no earlier build" reasons inline, and a summary
	// of every rebuilt step at the end (--explain).
	explain bool
	start   time.Time

	mu    sync.Mutex
	steps []*stepState
	byID  map[digest.Digest]*stepState
	lines int // lines drawn by the last tty frame
	stop  chan struct{}
	done  chan struct{}
}

type stepState struct {
	n       int
	name    string
	started time.Time
	ended   time.Time
	cached  bool
	failed  bool
	err     error
	partial []byte // plain mode: an unfinished output line
	reason  string // why it was not cached
}

func newProgress(mode string, out *os.File) *progress {
	if mode == "auto" {
		mode = "plain"
		if isTerminal(out) {
			mode = "tty"
		}
	}
	p := &progress{mode: mode, out: out, start: time.Now(), byID: map[digest.Digest]*stepState{}}
	if mode == "tty" {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go p.loop()
	}
	return p
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func (p *progress) step(e solver.Event) *stepState {
	s, ok := p.byID[e.Vertex]
	if !ok {
		s = &stepState{n: len(p.steps) + 1, name: e.Name}
		p.byID[e.Vertex] = s
		p.steps = append(p.steps, s)
	}
	return s
}

func (p *progress) event(e solver.Event) {
	if p.mode == "quiet" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, seen := p.byID[e.Vertex]
	s := p.step(e)
	if p.mode == "plain" && !seen {
		fmt.Fprintf(p.out, "#%d %s\n", s.n, s.name)
	}
	switch e.Kind {
	case solver.Started:
		s.started = e.Time
		s.reason = e.Reason
		if p.mode == "plain" && e.Reason != "" && (p.explain || e.Reason != solver.ReasonNoHistory) {
			fmt.Fprintf(p.out, "#%d REBUILT: %s\n", s.n, e.Reason)
		}
	case solver.Cached:
		s.cached, s.ended = true, e.Time
		if p.mode == "plain" {
			fmt.Fprintf(p.out, "#%d CACHED\n", s.n)
		}
	case solver.Done:
		s.ended = e.Time
		if p.mode == "plain" {
			p.flushPartial(s)
			fmt.Fprintf(p.out, "#%d DONE %.1fs\n", s.n, s.ended.Sub(s.started).Seconds())
		}
	case solver.Failed:
		s.failed, s.ended, s.err = true, e.Time, e.Err
		if p.mode == "plain" {
			p.flushPartial(s)
			fmt.Fprintf(p.out, "#%d ERROR: %v\n", s.n, e.Err)
		}
	case solver.Log:
		if p.mode == "plain" {
			p.logLines(s, e)
		}
	}
}

// logLines prints complete lines of a step's output, each prefixed with the
// step number and the time since the step started, as BuildKit does.
func (p *progress) logLines(s *stepState, e solver.Event) {
	data := append(s.partial, e.Data...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(p.out, "#%d %.3f %s\n", s.n, e.Time.Sub(s.started).Seconds(), data[:i])
		data = data[i+1:]
	}
	s.partial = append([]byte(nil), data...)
}

func (p *progress) flushPartial(s *stepState) {
	if len(s.partial) > 0 {
		fmt.Fprintf(p.out, "#%d %s\n", s.n, s.partial)
		s.partial = nil
	}
}

func (p *progress) warn(msg string) {
	if p.mode == "quiet" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearFrame()
	fmt.Fprintf(p.out, "WARNING: %s\n", msg)
}

// close stops the live view, leaving its final frame on screen.
func (p *progress) close() {
	if p.stop == nil {
		return
	}
	close(p.stop)
	<-p.done
	p.stop = nil
}

func (p *progress) summary(id digest.Digest, tags []string) {
	if p.mode == "quiet" {
		return
	}
	fmt.Fprintf(p.out, "writing image %s\n", id)
	for _, t := range tags {
		fmt.Fprintf(p.out, "naming to %s\n", t)
	}
}

func (p *progress) loop() {
	defer close(p.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			p.mu.Lock()
			p.draw()
			p.mu.Unlock()
			return
		case <-t.C:
			p.mu.Lock()
			p.draw()
			p.mu.Unlock()
		}
	}
}

func (p *progress) clearFrame() {
	if p.lines > 0 {
		fmt.Fprintf(p.out, "\x1b[%dA\x1b[J", p.lines)
		p.lines = 0
	}
}

// draw repaints the live view: a header, then a line per step with its
// state and duration.
func (p *progress) draw() {
	var b strings.Builder
	finished := 0
	for _, s := range p.steps {
		if !s.ended.IsZero() {
			finished++
		}
	}
	now := time.Now()
	fmt.Fprintf(&b, "[+] Building %.1fs (%d/%d)\n", now.Sub(p.start).Seconds(), finished, len(p.steps))
	for _, s := range p.steps {
		status := ""
		switch {
		case s.cached:
			status = "CACHED"
		case s.failed:
			status = "ERROR"
		case !s.ended.IsZero():
			status = fmt.Sprintf("%.1fs", s.ended.Sub(s.started).Seconds())
		case !s.started.IsZero():
			status = fmt.Sprintf("%.1fs", now.Sub(s.started).Seconds())
		}
		fmt.Fprintf(&b, " => %-60s %s\n", truncate(s.name, 60), status)
	}
	p.clearFrame()
	io.WriteString(p.out, b.String())
	p.lines = strings.Count(b.String(), "\n")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// explainSummary lists, after the build, every step that ran and why
// (--explain); in tty mode the live view has no room for it.
func (p *progress) explainSummary(w io.Writer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range p.steps {
		if s.started.IsZero() {
			continue
		}
		if n == 0 {
			fmt.Fprintln(w, "explain: steps not taken from the cache:")
		}
		n++
		fmt.Fprintf(w, "  #%d %s: %s\n", s.n, s.name, s.reason)
	}
	if n == 0 {
		fmt.Fprintln(w, "explain: every step was taken from the cache")
	}
}
