package e2e

import (
	"strings"
	"testing"
)

// A failing RUN names the Dockerfile line, the command and its exit code,
// and repeats the end of its output.
func TestFailingRun(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": `FROM busybox
RUN echo fine
RUN echo some-output && exit 3
RUN echo never-reached
`,
	})
	stdout, stderr, code := kiln(t, root, "build", "--progress", "plain", "-t", "broken", dir)
	if code == 0 {
		t.Fatalf("build: got exit status 0, want non-zero\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	if code != 1 {
		t.Errorf("build: got exit status %d, want 1", code)
	}
	for _, want := range []string{
		"Dockerfile:3: RUN echo some-output && exit 3: exit code 3",
		"  > some-output",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("build: got stderr\n%s\nwant it to contain %q", stderr, want)
		}
	}
	if strings.Contains(stderr, "never-reached\n#") || strings.Contains(stderr, "naming to") {
		t.Errorf("build: got stderr\n%s\nwant no step after the failure and no image", stderr)
	}
	log := parsePlain(stderr)
	if s := log.step(t, "RUN echo some-output"); s.err == "" {
		t.Errorf("step %s: got no ERROR line, want one", s)
	}
	if _, _, code := kiln(t, root, "run", "--rm", "broken", "true"); code == 0 {
		t.Errorf("run broken: got exit status 0, want non-zero (the failed build must not tag an image)")
	}

	// Only the end of a long output is repeated.
	long := newContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN for i in $(seq 1 50); do echo line-$i; done; exit 2\n",
	})
	_, stderr, _ = kiln(t, root, "build", "--progress", "quiet", long)
	if !strings.Contains(stderr, "Dockerfile:2: RUN for i in") || !strings.Contains(stderr, ": exit code 2\n") {
		t.Errorf("long output: got stderr\n%s\nwant the Dockerfile:2 error with exit code 2", stderr)
	}
	if !strings.Contains(stderr, "  > line-50\n") && !strings.HasSuffix(stderr, "  > line-50") {
		t.Errorf("long output: got stderr\n%s\nwant the last line, line-50", stderr)
	}
	if strings.Contains(stderr, "  > line-1\n") || strings.Count(stderr, "  > ") > 30 {
		t.Errorf("long output: got stderr\n%s\nwant only the tail of the output", stderr)
	}

	// -q shows the error too.
	_, stderr, code = kiln(t, root, "build", "-q", dir)
	if code == 0 || !strings.Contains(stderr, "Dockerfile:3: RUN echo some-output && exit 3: exit code 3") {
		t.Errorf("build -q: got exit status %d, stderr\n%s\nwant non-zero and the Dockerfile:3 error", code, stderr)
	}
}

// A COPY of a file the context does not have names the file and the line.
func TestCopyMissingFile(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": "FROM busybox\n\nCOPY missing.txt /\n",
		"there.txt":  "x\n",
	})
	_, stderr, code := kiln(t, root, "build", "--progress", "plain", dir)
	if code == 0 {
		t.Fatalf("build: got exit status 0, want non-zero")
	}
	want := `Dockerfile:3: COPY missing.txt /: "missing.txt" not found in build context`
	if !strings.Contains(stderr, want) {
		t.Errorf("build: got stderr\n%s\nwant it to contain %q", stderr, want)
	}
}

// Mistakes on the command line or in the Dockerfile get a message a user can
// act on, never a stack trace (kiln checks the latter on every call).
func TestUserErrors(t *testing.T) {
	root := newBusyboxRoot(t)
	good := newContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN true\n"})
	for _, tc := range []struct {
		name       string
		dockerfile string   // written to a fresh context when set
		args       []string // the context dir is appended for build
		want       []string // all of these in stderr
	}{
		{name: "unknown flag", args: []string{"build", "--bogus"}, want: []string{"--bogus"}},
		{name: "bad progress", args: []string{"build", "--progress", "fancy"}, want: []string{"--progress", "fancy"}},
		{name: "bad network", args: []string{"build", "--network", "bridge"}, want: []string{"--network", "bridge"}},
		{name: "bad build-arg", args: []string{"build", "--build-arg", "=x"}, want: []string{"--build-arg"}},
		{name: "unknown subcommand", args: []string{"frobnicate"}, want: []string{"frobnicate"}},
		{name: "no context", args: []string{"build"}, want: []string{"CONTEXT"}},
		{name: "missing context", args: []string{"build", "/nonexistent/kiln-context"}, want: []string{"/nonexistent/kiln-context"}},
		{name: "missing Dockerfile", args: []string{"build", "-f", "/nonexistent/Dockerfile"}, want: []string{"/nonexistent/Dockerfile", "not found"}},
		{name: "unknown instruction", dockerfile: "FORM busybox\nRUN true\n", args: []string{"build"}, want: []string{"Dockerfile:1", "FORM"}},
		{name: "unknown instruction later", dockerfile: "FROM busybox\nRUN true\nCOPPY a /\n", args: []string{"build"}, want: []string{"Dockerfile:3", "COPPY"}},
		{name: "unknown target", dockerfile: "FROM busybox AS one\nRUN true\n", args: []string{"build", "--target", "nope"}, want: []string{"nope"}},
		{name: "unknown base image", dockerfile: "FROM no-such-image\nRUN true\n", args: []string{"build"}, want: []string{"no-such-image"}},
		{name: "unknown stage in COPY --from", dockerfile: "FROM busybox\nCOPY --from=nowhere /x /x\n", args: []string{"build"}, want: []string{"Dockerfile:2"}},
		{name: "empty Dockerfile", dockerfile: "# nothing\n", args: []string{"build"}},
		{name: "bad instruction flag", dockerfile: "FROM busybox\nCOPY --bogus=1 a /\n", args: []string{"build"}, want: []string{"Dockerfile:2", "bogus"}},
		{name: "run unknown image", args: []string{"run", "no-such-image", "true"}, want: []string{"no-such-image"}},
		{name: "inspect unknown image", args: []string{"inspect", "no-such-image"}, want: []string{"no-such-image"}},
		{name: "rmi unknown image", args: []string{"rmi", "no-such-image"}, want: []string{"no-such-image"}},
		{name: "tag unknown image", args: []string{"tag", "no-such-image", "x"}, want: []string{"no-such-image"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if args[0] == "build" && tc.name != "no context" && tc.name != "missing context" {
				dir := good
				if tc.dockerfile != "" {
					dir = newContext(t, map[string]string{"Dockerfile": tc.dockerfile, "a": "a\n"})
				}
				args = append(append([]string(nil), args...), dir)
			}
			stdout, stderr, code := kiln(t, root, args...)
			if code == 0 {
				t.Fatalf("kiln %s: got exit status 0, want non-zero\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), stdout, stderr)
			}
			if args[0] == "run" && code != 125 {
				t.Errorf("kiln %s: got exit status %d, want 125 (kiln's own error)", strings.Join(args, " "), code)
			}
			if strings.TrimSpace(stderr) == "" {
				t.Errorf("kiln %s: got no message on stderr, want one", strings.Join(args, " "))
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("kiln %s: got stderr\n%s\nwant it to contain %q", strings.Join(args, " "), stderr, w)
				}
			}
		})
	}
}
