package e2e

import (
	"strings"
	"testing"
)

// COPY and ADD take here-documents as files, as BuildKit does: expanded
// unless the name is quoted, tabs stripped with <<-, one file per document.
func TestLangCopyHeredoc(t *testing.T) {
	root := newBusyboxRoot(t)
	dockerfile := "FROM busybox\nARG NAME=kiln\n" +
		"COPY <<EOF /etc/motd\nhello $NAME \"quoted\"\nEOF\n" +
		"COPY --chmod=0755 <<\"EOF\" /greet\n#!/bin/sh\necho \"hi $1\"\nEOF\n" +
		"ADD <<-one <<two /docs/\n\tfirst\n\tone\nsecond\ntwo\n"
	build(t, root, newContext(t, map[string]string{"Dockerfile": dockerfile}), "-t", "heredoc")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"cat", "/etc/motd"}, "hello kiln \"quoted\"\n"},
		{[]string{"/greet", "there"}, "hi there\n"},
		{[]string{"cat", "/docs/one", "/docs/two"}, "first\nsecond\n"},
		{[]string{"stat", "-c", "%a", "/greet", "/etc/motd"}, "755\n644\n"},
	} {
		if got, _ := mustKiln(t, root, append([]string{"run", "--rm", "heredoc"}, c.args...)...); got != c.want {
			t.Errorf("run %s: got %q, want %q", strings.Join(c.args, " "), got, c.want)
		}
	}
	// The same documents again: every step cached.
	_, errOut := mustKiln(t, root, "build", "--progress", "plain", "-t", "heredoc", newContext(t, map[string]string{"Dockerfile": dockerfile}))
	if strings.Contains(errOut, " DONE ") {
		t.Errorf("rebuild of unchanged here-documents ran steps:\n%s", errOut)
	}
}

// A RUN here-document with its own #! line runs as a script file, mounted
// where BuildKit mounts it, and leaves no trace of itself in the image.
func TestLangRunHeredocScript(t *testing.T) {
	root := newBusyboxRoot(t)
	dockerfile := "FROM busybox\nRUN <<EOF\n#!/bin/sh\necho \"script $0\" > /ran\nEOF\n"
	build(t, root, newContext(t, map[string]string{"Dockerfile": dockerfile}), "-t", "script")
	if got, _ := mustKiln(t, root, "run", "--rm", "script", "cat", "/ran"); got != "script /dev/pipes/EOF\n" {
		t.Errorf("cat /ran: got %q, want %q", got, "script /dev/pipes/EOF\n")
	}
	if _, _, code := kiln(t, root, "run", "--rm", "script", "ls", "/dev/pipes"); code == 0 {
		t.Errorf("ls /dev/pipes in the image: got exit 0, want the script mount gone")
	}
}
