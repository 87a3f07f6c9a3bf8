package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Files a RUN deletes stay deleted in the image and in images built on it,
// and a directory removed and made again holds only its new content.
func TestDeletionsSurviveExport(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": `FROM busybox AS base
RUN mkdir -p /d/sub && echo old > /d/sub/f && echo old > /d/top && echo y > /keep && echo z > /gone
RUN rm /gone && rm -r /d && mkdir -p /d && echo new > /d/new

FROM base AS next
RUN echo next > /next

FROM busybox
COPY --from=next /d /copied-d
`,
	})
	build(t, root, dir, "--target", "next", "-t", "next")
	build(t, root, dir, "-t", "final")

	stdout, _ := mustKiln(t, root, "run", "--rm", "next", "sh", "-c", "find /d | sort; cat /keep; test -e /gone && echo gone-is-back; true")
	if want := "/d\n/d/new\ny\n"; stdout != want {
		t.Errorf("run next: got %q, want %q", stdout, want)
	}
	stdout, _ = mustKiln(t, root, "run", "--rm", "final", "find", "/copied-d")
	if want := "/copied-d\n/copied-d/new\n"; stdout != want {
		t.Errorf("run final find /copied-d: got %q, want %q", stdout, want)
	}
}

// Paths in the image are resolved in the image: a symlink to an absolute
// path, or one climbing with .., does not lead a COPY, WORKDIR or RUN out to
// the host.
func TestSymlinksStayInsideImage(t *testing.T) {
	root := newBusyboxRoot(t)
	host := t.TempDir() // exists on the host, and must stay empty
	dir := newContext(t, map[string]string{
		"Dockerfile": `FROM busybox
RUN mkdir -p ` + host + ` && ln -s ` + host + ` /abs && ln -s ../../../../../../../../..` + host + ` /rel
COPY a.txt /abs/
COPY b.txt /rel/b.txt
WORKDIR /abs/wd
RUN echo from-run > /rel/run.txt
`,
		"a.txt": "a\n",
		"b.txt": "b\n",
	})
	build(t, root, dir, "-t", "links")
	entries, err := os.ReadDir(host)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) > 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("host dir the image's symlinks point at: got %v, want it empty", names)
	}
	stdout, _ := mustKiln(t, root, "run", "--rm", "links", "sh", "-c", "cat "+host+"/a.txt "+host+"/b.txt "+host+"/run.txt; test -d "+host+"/wd && echo wd-inside")
	if want := "a\nb\nfrom-run\nwd-inside\n"; stdout != want {
		t.Errorf("run links: got %q, want %q", stdout, want)
	}
}

// COPY sources never leave the context, through .. or through a symlink in
// the context.
func TestCopySourcesStayInContext(t *testing.T) {
	root := newBusyboxRoot(t)
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"secret.txt": "outside-secret\n"})
	dir := newContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nCOPY leak /leak\nCOPY leakdir/ /leakdir/\n",
	})
	if err := os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(dir, "leak")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "leakdir")); err != nil {
		t.Fatal(err)
	}
	// Whether kiln copies the links themselves (as Docker does) or refuses,
	// the outside file's content must not end up in the image.
	if _, stderr, code := kiln(t, root, "build", "-t", "leak", dir); code == 0 {
		stdout, _, _ := kiln(t, root, "run", "--rm", "leak", "sh", "-c", "cat /leak /leakdir/secret.txt 2>/dev/null; find /leakdir 2>/dev/null")
		if strings.Contains(stdout, "outside-secret") || strings.Contains(stdout, "secret.txt") {
			t.Errorf("COPY of symlinks out of the context: got %q in the image, want nothing from outside", stdout)
		}
	} else if strings.TrimSpace(stderr) == "" {
		t.Errorf("COPY of symlinks out of the context: got exit status %d and no message", code)
	}

	parent := filepath.Dir(dir)
	writeFiles(t, parent, map[string]string{"up.txt": "outside-up\n"})
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox\nCOPY ../up.txt /up.txt\n"})
	if _, stderr, code := kiln(t, root, "build", "-t", "up", dir); code == 0 {
		stdout, _, _ := kiln(t, root, "run", "--rm", "up", "cat", "/up.txt")
		if strings.Contains(stdout, "outside-up") {
			t.Errorf("COPY ../up.txt: got %q in the image, want nothing from outside the context", stdout)
		}
	} else if !strings.Contains(stderr, "up.txt") {
		t.Errorf("COPY ../up.txt: got exit status %d, stderr %q, want the error to name up.txt", code, stderr)
	}
}

// ARG before FROM, ENV and ARG expansion in instructions, line
// continuations, comments and parser directives work as in Docker.
func TestDockerfileSyntax(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": `# syntax=docker/dockerfile:1
# escape=\
ARG BASE=busybox
FROM ${BASE} AS base
ENV APP=/opt/app \
    NAME=kiln
WORKDIR $APP
# a comment between instructions
COPY --chown=1000:1000 greeting.txt ${APP}/greeting.txt
RUN echo "name=$NAME dir=$(pwd)" \
 && cat greeting.txt \
 && stat -c %u greeting.txt
ARG VERSION
RUN echo version=${VERSION:-unset}
RUN ["sh", "-c", "echo exec-form-$NAME"]
`,
		"greeting.txt": "hello\n",
	})
	log, _ := build(t, root, dir, "--build-arg", "VERSION=2")
	for _, tc := range []struct{ step, want string }{
		{`RUN echo "name=$NAME`, "name=kiln dir=/opt/app\nhello\n1000"},
		{"RUN echo version=", "version=2"},
		{"RUN [\"sh\"", "exec-form-kiln"},
	} {
		if got := strings.Join(log.step(t, tc.step).output, "\n"); got != tc.want {
			t.Errorf("step %q: got output %q, want %q", tc.step, got, tc.want)
		}
	}
	log, _ = build(t, root, dir)
	if got := strings.Join(log.step(t, "RUN echo version=").output, "\n"); got != "version=unset" {
		t.Errorf("ARG without a value: got output %q, want %q", got, "version=unset")
	}
}

// Every --progress mode builds; quiet prints nothing but errors, and auto
// on a pipe is plain.
func TestProgressModes(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo progress-output\n"})
	for _, mode := range []string{"plain", "tty", "quiet", "auto"} {
		t.Run(mode, func(t *testing.T) {
			stdout, stderr := mustKiln(t, root, "build", "--no-cache", "--progress", mode, "-t", "p", dir)
			switch mode {
			case "quiet":
				if strings.TrimSpace(stderr) != "" {
					t.Errorf("--progress quiet: got stderr %q, want nothing", stderr)
				}
			case "plain", "auto":
				if !strings.Contains(stderr, "progress-output") || !strings.Contains(stderr, "naming to p:latest") && !strings.Contains(stderr, "naming to p") {
					t.Errorf("--progress %s: got stderr\n%s\nwant the step's output and the image name", mode, stderr)
				}
			case "tty":
				if !strings.Contains(stderr, "RUN echo progress-output") {
					t.Errorf("--progress tty: got stderr\n%s\nwant the step", stderr)
				}
			}
			if strings.TrimSpace(stdout) != "" && mode != "quiet" {
				t.Errorf("--progress %s: got stdout %q, want nothing", mode, stdout)
			}
		})
	}
}
