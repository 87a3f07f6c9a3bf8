package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// --on-error=keep keeps a failed RUN's container: kiln debug ID runs a
// command in its filesystem, with the env, working directory and user the
// step ran with, and the cache mount it had.
func TestDebugKeep(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{"Dockerfile": "FROM busybox\nENV STAGE=debugged\nWORKDIR /work\n" +
		"RUN --mount=type=cache,id=dbg,target=/c echo cached > /c/f && echo before > /work/file && exit 3\n"})
	_, stderr, code := kiln(t, root, "build", "--progress", "plain", "--on-error=keep", dir)
	if code == 0 {
		t.Fatalf("build of a failing RUN: got exit status 0\n%s", stderr)
	}
	m := regexp.MustCompile(`kiln debug ([0-9a-f]+)`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("failed build with --on-error=keep: got stderr %q, want the kept container's ID", stderr)
	}
	id := m[1]
	if !strings.Contains(stderr, "exit code 3") {
		t.Errorf("failed build: got stderr %q, want the step's exit code", stderr)
	}
	stdout, _ := mustKiln(t, root, "debug", id, "cat", "/work/file")
	if stdout != "before\n" {
		t.Errorf("kiln debug %s cat /work/file: got %q, want %q", id, stdout, "before\n")
	}
	stdout, _ = mustKiln(t, root, "debug", id, "sh", "-c", `echo "$STAGE $(pwd) $(id -u)"; cat /c/f`)
	if want := "debugged /work 0\ncached\n"; stdout != want {
		t.Errorf("kiln debug %s: env, cwd, user, cache mount: got %q, want %q", id, stdout, want)
	}
	// A command's exit status is kiln debug's.
	if _, _, code := kiln(t, root, "debug", id, "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("kiln debug %s sh -c 'exit 7': got exit status %d, want 7", id, code)
	}
	if _, stderr, code := kiln(t, root, "debug", "nosuch", "true"); code == 0 || !strings.Contains(stderr, "no such debug container") {
		t.Errorf("kiln debug nosuch: got exit status %d, stderr %q, want an error", code, stderr)
	}

	// Without the flag nothing is kept; --on-error=shell needs a terminal.
	_, stderr, _ = kiln(t, root, "build", "--progress", "plain", dir)
	if strings.Contains(stderr, "kiln debug") {
		t.Errorf("failed build without --on-error: got stderr %q, want no kept container", stderr)
	}
	_, stderr, code = kiln(t, root, "build", "--on-error=shell", dir)
	if code == 0 || !strings.Contains(stderr, "--on-error=shell needs a terminal") {
		t.Errorf("--on-error=shell without a terminal: got exit status %d, stderr %q", code, stderr)
	}
	_, stderr, code = kiln(t, root, "build", "--on-error=ignore", dir)
	if code == 0 || !strings.Contains(stderr, "--on-error") {
		t.Errorf("--on-error=ignore: got exit status %d, stderr %q, want the flag named", code, stderr)
	}
}
