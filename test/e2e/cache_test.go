package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A rebuild of an unchanged context takes every step from the cache, runs
// no container and yields the same image.
func TestRebuildUnchangedIsCached(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": `FROM busybox
COPY a.txt /a.txt
RUN date +%s%N > /stamp && echo $RANDOM$RANDOM >> /stamp
ENV GREETING=hi
RUN cat /a.txt
`,
		"a.txt": "alpha\n",
	})

	first, id1 := build(t, root, dir, "-t", "app")
	for _, s := range first.buildSteps() {
		if s.cached {
			t.Errorf("first build: step %s: got CACHED, want it to run", s)
		}
	}
	stamp1, _ := mustKiln(t, root, "run", "--rm", "app", "cat", "/stamp")

	second, id2 := build(t, root, dir, "-t", "app")
	if len(second.buildSteps()) != 3 {
		t.Errorf("rebuild: got %d RUN/COPY steps, want 3; progress:\n%s", len(second.buildSteps()), second.text)
	}
	for _, s := range second.steps {
		if !s.cached || s.done {
			t.Errorf("rebuild: step %s: got cached=%v done=%v, want CACHED and no DONE", s, s.cached, s.done)
		}
	}
	if id2 != id1 {
		t.Errorf("rebuild: got image ID %s, want %s (the first build's)", id2, id1)
	}
	stamp2, _ := mustKiln(t, root, "run", "--rm", "app", "cat", "/stamp")
	if stamp2 != stamp1 {
		t.Errorf("rebuild: got /stamp %q, want %q (the RUN ran again)", stamp2, stamp1)
	}

	// -q prints the same ID, and only it.
	stdout, stderr := mustKiln(t, root, "build", "-q", dir)
	if got := strings.TrimSpace(stdout); got != id1 {
		t.Errorf("build -q: got stdout %q, want %q", got, id1)
	}
	if strings.TrimSpace(stderr) != "" {
		t.Errorf("build -q: got stderr %q, want nothing", stderr)
	}

	// Touching a file without changing it changes nothing: keys are
	// content, not time.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "a.txt"), later, later); err != nil {
		t.Fatal(err)
	}
	touched, id3 := build(t, root, dir)
	if id3 != id1 {
		t.Errorf("after touch: got image ID %s, want %s", id3, id1)
	}
	touched.wantCached(t, "COPY a.txt")

	// --no-cache runs everything again.
	fresh, id4 := build(t, root, dir, "--no-cache", "-t", "app")
	for _, s := range fresh.buildSteps() {
		if s.cached || !s.done {
			t.Errorf("--no-cache: step %s: got cached=%v done=%v, want DONE", s, s.cached, s.done)
		}
	}
	if id4 == id1 {
		t.Errorf("--no-cache: got image ID %s again, want a new one (/stamp differs)", id4)
	}
	stamp4, _ := mustKiln(t, root, "run", "--rm", "app", "cat", "/stamp")
	if stamp4 == stamp1 {
		t.Errorf("--no-cache: got /stamp %q unchanged, want a new one", stamp4)
	}
}

// Editing a file re-runs the COPY that selects it and what follows, and
// nothing before; editing a file no COPY selects re-runs nothing.
func TestEditInvalidatesFromCopy(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": `FROM busybox
RUN echo one > /one
COPY a.txt /a.txt
RUN echo after-a && cat /a.txt
COPY b.txt /b.txt
RUN echo after-b && cat /b.txt
`,
		"a.txt":      "a1\n",
		"b.txt":      "b1\n",
		"unused.txt": "u1\n",
	})
	_, id1 := build(t, root, dir)

	writeFiles(t, dir, map[string]string{"b.txt": "b2\n"})
	log, id2 := build(t, root, dir)
	log.wantCached(t, "RUN echo one")
	log.wantCached(t, "COPY a.txt")
	log.wantCached(t, "RUN echo after-a")
	log.wantRan(t, "COPY b.txt")
	log.wantRan(t, "RUN echo after-b")
	if out := strings.Join(log.step(t, "RUN echo after-b").output, "\n"); !strings.Contains(out, "b2") {
		t.Errorf("RUN after the edited COPY: got output %q, want it to contain %q", out, "b2")
	}
	if id2 == id1 {
		t.Errorf("after editing b.txt: got the same image ID %s, want a new one", id2)
	}

	writeFiles(t, dir, map[string]string{"a.txt": "a2\n"})
	log, _ = build(t, root, dir)
	log.wantCached(t, "RUN echo one")
	log.wantRan(t, "COPY a.txt")
	log.wantRan(t, "RUN echo after-a")
	log.wantRan(t, "COPY b.txt")
	log.wantRan(t, "RUN echo after-b")

	// The mode is part of what a COPY selects.
	if err := os.Chmod(filepath.Join(dir, "b.txt"), 0o755); err != nil {
		t.Fatal(err)
	}
	log, _ = build(t, root, dir)
	log.wantCached(t, "COPY a.txt")
	log.wantRan(t, "COPY b.txt")

	_, id3 := build(t, root, dir)
	writeFiles(t, dir, map[string]string{"unused.txt": "u2\n", "new.txt": "new\n"})
	log, id4 := build(t, root, dir)
	if id4 != id3 {
		t.Errorf("after editing a file no COPY selects: got image ID %s, want %s", id4, id3)
	}
	for _, s := range log.buildSteps() {
		if !s.cached || s.done {
			t.Errorf("after editing a file no COPY selects: step %s: got cached=%v done=%v, want CACHED", s, s.cached, s.done)
		}
	}
}

// Files .dockerignore excludes are not in the context: COPY . leaves them
// out, and editing them re-runs nothing.
func TestDockerignore(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": `FROM busybox
COPY . /ctx/
RUN ls -a /ctx
`,
		".dockerignore":   "ignored.txt\nlogs/\n*.tmp\n!keep.tmp\n",
		"scratch.tmp":     "t1\n",
		"keep.tmp":        "kept too\n",
		"kept.txt":        "kept\n",
		"ignored.txt":     "i1\n",
		"logs/build.log":  "l1\n",
		"sub/another.txt": "x\n",
	})
	_, id1 := build(t, root, dir, "-t", "ctx")
	stdout, _ := mustKiln(t, root, "run", "--rm", "ctx", "find", "/ctx")
	for _, want := range []string{"/ctx/kept.txt", "/ctx/sub/another.txt", "/ctx/keep.tmp"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("COPY . /ctx/: got files %q, want %s among them", stdout, want)
		}
	}
	for _, unwanted := range []string{"ignored.txt", "build.log", "scratch.tmp"} {
		if strings.Contains(stdout, unwanted) {
			t.Errorf("COPY . /ctx/: got files %q, want no %s (it is in .dockerignore)", stdout, unwanted)
		}
	}

	writeFiles(t, dir, map[string]string{"ignored.txt": "i2\n", "logs/build.log": "l2\n", "logs/new.log": "n\n", "scratch.tmp": "t2\n", "more.tmp": "m\n"})
	log, id2 := build(t, root, dir)
	if id2 != id1 {
		t.Errorf("after editing ignored files: got image ID %s, want %s", id2, id1)
	}
	log.wantCached(t, "COPY . /ctx/")
	log.wantCached(t, "RUN ls -a /ctx")

	writeFiles(t, dir, map[string]string{"kept.txt": "kept2\n"})
	log, _ = build(t, root, dir)
	log.wantRan(t, "COPY . /ctx/")
	log.wantRan(t, "RUN ls -a /ctx")

	// An exception (!keep.tmp) is in the context: editing it re-runs.
	writeFiles(t, dir, map[string]string{"keep.tmp": "kept too, edited\n"})
	log, _ = build(t, root, dir)
	log.wantRan(t, "COPY . /ctx/")
}

// A wildcard COPY selects the files that match it now: a new match re-runs
// it, a new file that does not match does not.
func TestCopyWildcard(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile":  "FROM busybox\nCOPY conf/*.conf /etc/app/\nRUN ls /etc/app\n",
		"conf/a.conf": "a\n",
		"conf/readme": "r\n",
	})
	_, id1 := build(t, root, dir)
	writeFiles(t, dir, map[string]string{"conf/readme": "r2\n", "conf/notes.txt": "n\n"})
	log, id2 := build(t, root, dir)
	log.wantCached(t, "COPY conf/*.conf")
	if id2 != id1 {
		t.Errorf("after adding a file the wildcard does not match: got image ID %s, want %s", id2, id1)
	}
	writeFiles(t, dir, map[string]string{"conf/b.conf": "b\n"})
	log, _ = build(t, root, dir, "-t", "wild")
	log.wantRan(t, "COPY conf/*.conf")
	if out := strings.Join(log.step(t, "RUN ls /etc/app").output, " "); out != "a.conf b.conf" {
		t.Errorf("RUN ls /etc/app: got %q, want %q", out, "a.conf b.conf")
	}
	// Removing a match re-runs it too.
	if err := os.Remove(filepath.Join(dir, "conf", "a.conf")); err != nil {
		t.Fatal(err)
	}
	log, _ = build(t, root, dir)
	log.wantRan(t, "COPY conf/*.conf")
}

// Three independent stages run at the same time: every one of them has
// started before any has finished.
func TestIndependentStagesRunConcurrently(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": `FROM busybox AS a
RUN sleep 2 && echo a > /a
FROM busybox AS b
RUN sleep 2 && echo b > /b
FROM busybox AS c
RUN sleep 2 && echo c > /c
FROM busybox
COPY --from=a /a /a
COPY --from=b /b /b
COPY --from=c /c /c
RUN cat /a /b /c
`,
	})
	start := time.Now()
	log, _ := build(t, root, dir, "-t", "abc")
	elapsed := time.Since(start)

	var sleeps []*plainStep
	for _, name := range []string{"echo a > /a", "echo b > /b", "echo c > /c"} {
		sleeps = append(sleeps, log.step(t, name))
	}
	lastHeader, firstEnd := -1, -1
	for _, s := range sleeps {
		if !s.done {
			t.Fatalf("step %s: got no DONE, want it to run; progress:\n%s", s, log.text)
		}
		lastHeader = max(lastHeader, s.header)
		if firstEnd < 0 || s.end < firstEnd {
			firstEnd = s.end
		}
	}
	if lastHeader > firstEnd {
		t.Errorf("the three sleeping stages: got a DONE (line %d) before the last one started (line %d), want all started before any finished; progress:\n%s", firstEnd, lastHeader, log.text)
	}
	t.Logf("three 2 s stages built in %v (the sum is 6 s)", elapsed.Round(10*time.Millisecond))

	stdout, _ := mustKiln(t, root, "run", "--rm", "abc", "cat", "/a", "/b", "/c")
	if stdout != "a\nb\nc\n" {
		t.Errorf("run abc cat /a /b /c: got %q, want %q", stdout, "a\nb\nc\n")
	}
}

// --build-arg changes what a RUN sees, and re-runs only steps from the
// first one that uses it.
func TestBuildArg(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": `FROM busybox
RUN echo before > /before
ARG NAME=world
RUN echo hello-$NAME > /hello && cat /hello
RUN echo after
`,
	})
	log, id1 := build(t, root, dir, "-t", "args")
	if out := strings.Join(log.step(t, "RUN echo hello-$NAME").output, "\n"); !strings.Contains(out, "hello-world") {
		t.Errorf("default ARG: got output %q, want hello-world", out)
	}

	log, id2 := build(t, root, dir, "-t", "args", "--build-arg", "NAME=kiln")
	log.wantCached(t, "RUN echo before")
	log.wantRan(t, "RUN echo hello-$NAME")
	if out := strings.Join(log.step(t, "RUN echo hello-$NAME").output, "\n"); !strings.Contains(out, "hello-kiln") {
		t.Errorf("--build-arg NAME=kiln: got output %q, want hello-kiln", out)
	}
	if id2 == id1 {
		t.Errorf("--build-arg NAME=kiln: got the same image ID %s, want a new one", id2)
	}
	stdout, _ := mustKiln(t, root, "run", "--rm", "args", "cat", "/hello")
	if stdout != "hello-kiln\n" {
		t.Errorf("run args cat /hello: got %q, want %q", stdout, "hello-kiln\n")
	}

	// A build argument the Dockerfile does not declare changes nothing.
	_, idUnused := build(t, root, dir, "--build-arg", "NAME=kiln", "--build-arg", "UNDECLARED=x")
	if idUnused != id2 {
		t.Errorf("--build-arg UNDECLARED=x: got image ID %s, want %s", idUnused, id2)
	}

	// The same value again: all cached, same image.
	log, id3 := build(t, root, dir, "--build-arg", "NAME=kiln")
	if id3 != id2 {
		t.Errorf("--build-arg NAME=kiln again: got image ID %s, want %s", id3, id2)
	}
	for _, s := range log.buildSteps() {
		if !s.cached {
			t.Errorf("--build-arg NAME=kiln again: step %s: got it run, want CACHED", s)
		}
	}
}

// --target builds only the named stage and what it needs; a broken stage
// nothing needs does not break it.
func TestTarget(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": `FROM busybox AS broken
RUN echo broken-stage-ran && exit 1

FROM busybox AS good
RUN echo good > /good

FROM good AS final
COPY --from=broken /etc /broken
RUN echo final > /final
`,
	})
	log, _ := build(t, root, dir, "--target", "good", "-t", "good")
	if strings.Contains(log.text, "broken-stage-ran") || strings.Contains(log.text, "exit 1") {
		t.Errorf("--target good: got the broken stage in the progress, want only the good one:\n%s", log.text)
	}
	for _, s := range log.steps {
		if strings.Contains(s.name, "final") {
			t.Errorf("--target good: got step %s, want none of the final stage", s)
		}
	}
	stdout, _ := mustKiln(t, root, "run", "--rm", "good", "cat", "/good")
	if stdout != "good\n" {
		t.Errorf("run good cat /good: got %q, want %q", stdout, "good\n")
	}
	if _, _, code := kiln(t, root, "run", "--rm", "good", "test", "-e", "/final"); code == 0 {
		t.Errorf("run good test -e /final: got exit status 0, want non-zero (the final stage is not in --target good)")
	}

	// Without --target the last stage is built, and it needs the broken one.
	_, stderr, code := kiln(t, root, "build", "--progress", "plain", dir)
	if code == 0 {
		t.Errorf("build without --target: got exit status 0, want non-zero (the broken stage fails)")
	}
	if !strings.Contains(stderr, "Dockerfile:2: RUN echo broken-stage-ran && exit 1: exit code 1") {
		t.Errorf("build without --target: got stderr\n%s\nwant it to name Dockerfile:2 and exit code 1", stderr)
	}
}
