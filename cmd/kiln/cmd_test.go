package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/executor"
	"github.com/kiln-build/kiln/llb"
	"github.com/kiln-build/kiln/solver"
)

func TestFormatError(t *testing.T) {
	err := &solver.VertexError{
		Meta: llb.Meta{File: "Dockerfile", Line: 7, Text: "RUN make"},
		Err:  &executor.ExitError{Code: 2},
		Tail: []byte(strings.Repeat("line\n", 30) + "last words\n"),
	}
	got := formatError(err)
	lines := strings.Split(got, "\n")
	if lines[0] != "Dockerfile:7: RUN make: exit code 2" {
		t.Errorf("got first line %q, want %q", lines[0], "Dockerfile:7: RUN make: exit code 2")
	}
	if n := len(lines) - 1; n != tailLines {
		t.Errorf("got %d tail lines, want %d", n, tailLines)
	}
	if last := lines[len(lines)-1]; last != "  > last words" {
		t.Errorf("got last line %q, want %q", last, "  > last words")
	}
	if got := formatError(errors.New("boom")); got != "error: boom" {
		t.Errorf("got %q, want %q", got, "error: boom")
	}
}

func TestParseBuildArgs(t *testing.T) {
	t.Setenv("FROM_ENV", "e")
	got, err := parseBuildArgs([]string{"A=1", "B=", "C=x=y", "FROM_ENV", "UNSET_IN_ENV_X"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "B": "", "C": "x=y", "FROM_ENV": "e"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("got %s=%q, want %q", k, got[k], v)
		}
	}
	if _, err := parseBuildArgs([]string{"=x"}); err == nil {
		t.Errorf("got no error for --build-arg =x, want one")
	}
}

func TestSplitRef(t *testing.T) {
	for _, c := range []struct{ in, repo, tag string }{
		{"app:latest", "app", "latest"},
		{"localhost:5000/a/b:v1", "localhost:5000/a/b", "v1"},
		{"localhost:5000/a", "localhost:5000/a", "<none>"},
		{"", "<none>", "<none>"},
	} {
		if repo, tag := splitRef(c.in); repo != c.repo || tag != c.tag {
			t.Errorf("splitRef(%q): got %q %q, want %q %q", c.in, repo, tag, c.repo, c.tag)
		}
	}
}

func TestNetworkMode(t *testing.T) {
	if _, err := networkMode("bridge"); err == nil || !strings.Contains(err.Error(), "--network") {
		t.Errorf("build --network bridge: got %v, want an error naming the flag", err)
	}
	if got, err := networkMode("none"); err != nil || got != llb.NetworkNone {
		t.Errorf("build --network none: got %q, %v", got, err)
	}
}
