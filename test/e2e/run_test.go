package e2e

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// kiln run's flags and the image's config decide what runs, where, as whom
// and with what environment; the container's exit status is kiln's.
func TestRunOptions(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": `FROM busybox
# Debian's busybox-static has no adduser.
RUN mkdir -p /etc /home/alice && echo 'alice:x:1000:1000:Alice:/home/alice:/bin/sh' >> /etc/passwd && echo 'alice:x:1000:' >> /etc/group
ENV FOO=from-image
WORKDIR /srv/app
`,
	})
	build(t, root, dir, "-t", "opts")
	ep := newContext(t, map[string]string{
		"Dockerfile": `FROM busybox
ENTRYPOINT ["echo", "ep"]
CMD ["default-arg"]
`,
	})
	build(t, root, ep, "-t", "ep")
	cmd := newContext(t, map[string]string{
		"Dockerfile": `FROM busybox
ENV WHO=shell-form
CMD echo hello $WHO
`,
	})
	build(t, root, cmd, "-t", "cmd")

	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  string
		code  int
	}{
		{name: "image env", args: []string{"opts", "sh", "-c", "echo $FOO"}, want: "from-image\n"},
		{name: "-e overrides", args: []string{"-e", "FOO=bar", "opts", "sh", "-c", "echo $FOO"}, want: "bar\n"},
		{name: "-e adds", args: []string{"-e", "BAR=baz", "-e", "QUX=a b", "opts", "sh", "-c", "echo $BAR/$QUX/$FOO"}, want: "baz/a b/from-image\n"},
		{name: "image workdir", args: []string{"opts", "pwd"}, want: "/srv/app\n"},
		{name: "-w", args: []string{"-w", "/tmp", "opts", "pwd"}, want: "/tmp\n"},
		{name: "-w creates", args: []string{"-w", "/new/dir", "opts", "pwd"}, want: "/new/dir\n"},
		{name: "default user", args: []string{"opts", "id", "-u"}, want: "0\n"},
		{name: "-u uid", args: []string{"-u", "1000", "opts", "id", "-u"}, want: "1000\n"},
		{name: "-u name", args: []string{"-u", "alice", "opts", "id", "-un"}, want: "alice\n"},
		{name: "-u uid:gid", args: []string{"-u", "1000:1000", "opts", "sh", "-c", "echo $(id -u):$(id -g)"}, want: "1000:1000\n"},
		{name: "--entrypoint", args: []string{"--entrypoint", "echo", "opts", "over", "ridden"}, want: "over ridden\n"},
		{name: "--hostname", args: []string{"--hostname", "kiln-test", "opts", "hostname"}, want: "kiln-test\n"},
		{name: "image entrypoint and cmd", args: []string{"ep"}, want: "ep default-arg\n"},
		{name: "args replace cmd", args: []string{"ep", "x", "y"}, want: "ep x y\n"},
		{name: "--entrypoint drops cmd", args: []string{"--entrypoint", "echo", "ep"}, want: "\n"},
		{name: "shell-form cmd", args: []string{"cmd"}, want: "hello shell-form\n"},
		{name: "exit status", args: []string{"opts", "sh", "-c", "exit 7"}, code: 7},
		{name: "exit status and output", args: []string{"opts", "sh", "-c", "echo partial; exit 42"}, want: "partial\n", code: 42},
		{name: "false", args: []string{"opts", "false"}, code: 1},
		{name: "-i stdin", args: []string{"-i", "opts", "cat"}, stdin: "from stdin\n", want: "from stdin\n"},
		{name: "no -i no stdin", args: []string{"opts", "cat"}, stdin: "from stdin\n", want: ""},
		{name: "command not found", args: []string{"opts", "no-such-command"}, code: 127},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"run", "--rm"}, tc.args...)
			stdout, stderr, code := kilnStdin(t, root, strings.NewReader(tc.stdin), args...)
			if code != tc.code {
				t.Errorf("kiln %s: got exit status %d, want %d\nstderr:\n%s", strings.Join(args, " "), code, tc.code, stderr)
			}
			if stdout != tc.want {
				t.Errorf("kiln %s: got stdout %q, want %q\nstderr:\n%s", strings.Join(args, " "), stdout, tc.want, stderr)
			}
		})
	}
}

// ENV, WORKDIR, USER, LABEL, EXPOSE, ENTRYPOINT and CMD land in the image
// config, and the steps that only change metadata are empty layers in its
// history.
func TestInspectConfig(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": `FROM busybox
ENV A=1 B="two words"
WORKDIR /srv/app
RUN echo data > data.txt
USER 1000:1000
LABEL org.example.title="kiln test" version=1.0
EXPOSE 8080 53/udp
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo hi"]
`,
	})
	_, id := build(t, root, dir, "-t", "meta")
	stdout, _ := mustKiln(t, root, "inspect", "meta")
	var img ocispec.Image
	if err := json.Unmarshal([]byte(stdout), &img); err != nil {
		t.Fatalf("inspect meta: got %q, want OCI image config JSON: %v", stdout, err)
	}
	c := img.Config
	env := strings.Join(c.Env, "\n")
	for _, want := range []string{"A=1", "B=two words"} {
		if !strings.Contains(env+"\n", want+"\n") {
			t.Errorf("config.Env: got %q, want %q in it", c.Env, want)
		}
	}
	if c.WorkingDir != "/srv/app" {
		t.Errorf("config.WorkingDir: got %q, want %q", c.WorkingDir, "/srv/app")
	}
	if c.User != "1000:1000" {
		t.Errorf("config.User: got %q, want %q", c.User, "1000:1000")
	}
	if c.Labels["org.example.title"] != "kiln test" || c.Labels["version"] != "1.0" {
		t.Errorf("config.Labels: got %v, want org.example.title=kiln test and version=1.0", c.Labels)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok || len(c.ExposedPorts) != 2 {
		t.Errorf("config.ExposedPorts: got %v, want 8080/tcp and 53/udp", c.ExposedPorts)
	}
	if _, ok := c.ExposedPorts["53/udp"]; !ok {
		t.Errorf("config.ExposedPorts: got %v, want 53/udp in it", c.ExposedPorts)
	}
	if strings.Join(c.Entrypoint, " ") != "/bin/sh -c" || strings.Join(c.Cmd, " ") != "echo hi" {
		t.Errorf("config.Entrypoint, Cmd: got %q, %q, want [/bin/sh -c], [echo hi]", c.Entrypoint, c.Cmd)
	}
	if img.OS != "linux" || img.Architecture != runtime.GOARCH {
		t.Errorf("os/architecture: got %s/%s, want linux/%s", img.OS, img.Architecture, runtime.GOARCH)
	}

	// History: one entry per step; metadata-only ones are empty layers, and
	// the others match the layers one for one.
	layers := 0
	for _, h := range img.History {
		metadata := false
		for _, kw := range []string{"ENV ", "WORKDIR ", "USER ", "LABEL ", "EXPOSE ", "ENTRYPOINT ", "CMD "} {
			if strings.Contains(h.CreatedBy, kw) {
				metadata = true
			}
		}
		if metadata && !h.EmptyLayer {
			t.Errorf("history %q: got empty_layer false, want true", h.CreatedBy)
		}
		if strings.Contains(h.CreatedBy, "RUN ") || strings.Contains(h.CreatedBy, "echo data") {
			if h.EmptyLayer {
				t.Errorf("history %q: got empty_layer true, want a layer", h.CreatedBy)
			}
		}
		if !h.EmptyLayer {
			layers++
		}
	}
	if layers != len(img.RootFS.DiffIDs) {
		t.Errorf("history: got %d non-empty entries, want %d (one per diff ID)", layers, len(img.RootFS.DiffIDs))
	}
	for _, kw := range []string{"ENV", "WORKDIR", "USER", "LABEL", "EXPOSE", "CMD", "echo data"} {
		found := false
		for _, h := range img.History {
			found = found || strings.Contains(h.CreatedBy, kw)
		}
		if !found {
			t.Errorf("history: got %d entries with no %s step, want one; history: %+v", len(img.History), kw, img.History)
		}
	}

	// The ID inspects too, and as the same image.
	byID, _ := mustKiln(t, root, "inspect", id)
	if byID != stdout {
		t.Errorf("inspect %s: got another config than inspect meta", id)
	}
	// WORKDIR made the directory and RUN wrote in it; USER applies.
	stdout, _ = mustKiln(t, root, "run", "--rm", "meta", "cat data.txt; id -u; pwd")
	if stdout != "data\n1000\n/srv/app\n" {
		t.Errorf("run meta: got %q, want %q", stdout, "data\n1000\n/srv/app\n")
	}
}

// images lists tags, tag adds a name that runs, rmi removes one.
func TestImagesTagRmi(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo app > /app\n"})
	_, id := build(t, root, dir, "-t", "app", "-t", "example.com:5000/team/app:v2")

	stdout, _ := mustKiln(t, root, "images")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) < 3 || !strings.Contains(lines[0], "REPOSITORY") {
		t.Fatalf("images: got\n%s\nwant a header and the busybox and app images", stdout)
	}
	short := strings.TrimPrefix(id, "sha256:")[:12]
	for _, want := range [][]string{{"busybox", "latest"}, {"app", "latest", short}, {"example.com:5000/team/app", "v2", short}} {
		if !hasRow(lines, want...) {
			t.Errorf("images: got\n%s\nwant a row with %q", stdout, want)
		}
	}
	stdout, _ = mustKiln(t, root, "images", "-q")
	if !strings.Contains(stdout, short) || strings.Contains(stdout, "REPOSITORY") {
		t.Errorf("images -q: got %q, want IDs only, %s among them", stdout, short)
	}

	mustKiln(t, root, "tag", "app", "renamed:v1")
	stdout, _ = mustKiln(t, root, "run", "--rm", "renamed:v1", "cat", "/app")
	if stdout != "app\n" {
		t.Errorf("run renamed:v1 cat /app: got %q, want %q", stdout, "app\n")
	}
	stdout, _ = mustKiln(t, root, "images")
	if !hasRow(strings.Split(stdout, "\n"), "renamed", "v1", short) {
		t.Errorf("images after tag: got\n%s\nwant a renamed v1 row", stdout)
	}

	stdout, _ = mustKiln(t, root, "rmi", "app")
	if !strings.Contains(stdout, "app") {
		t.Errorf("rmi app: got %q, want it to say what it untagged", stdout)
	}
	_, stderr, code := kiln(t, root, "run", "--rm", "app", "true")
	if code != 125 {
		t.Errorf("run app after rmi: got exit status %d, want 125", code)
	}
	if !strings.Contains(stderr, "app") {
		t.Errorf("run app after rmi: got stderr %q, want it to name the image", stderr)
	}
	stdout, _ = mustKiln(t, root, "images")
	if hasRow(strings.Split(stdout, "\n"), "app", "latest") {
		t.Errorf("images after rmi app: got\n%s\nwant no app latest row", stdout)
	}
	// Other names of the same image still work.
	if stdout, _ := mustKiln(t, root, "run", "--rm", "renamed:v1", "cat", "/app"); stdout != "app\n" {
		t.Errorf("run renamed:v1 after rmi app: got %q, want %q", stdout, "app\n")
	}
}

// hasRow says whether a line has all the fields, as whole words.
func hasRow(lines []string, fields ...string) bool {
	for _, l := range lines {
		words := map[string]bool{}
		for _, w := range strings.Fields(l) {
			words[w] = true
		}
		all := true
		for _, f := range fields {
			all = all && words[f]
		}
		if all {
			return true
		}
	}
	return false
}

// An image is found by its ID, full or as a prefix, tagged or not.
func TestRunByID(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo untagged > /u\n"})
	stdout, _ := mustKiln(t, root, "build", "-q", dir)
	id := strings.TrimSpace(stdout)
	for _, ref := range []string{id, strings.TrimPrefix(id, "sha256:"), strings.TrimPrefix(id, "sha256:")[:12]} {
		if stdout, _ := mustKiln(t, root, "run", "--rm", ref, "cat", "/u"); stdout != "untagged\n" {
			t.Errorf("run %s cat /u: got %q, want %q", ref, stdout, "untagged\n")
		}
	}
	if _, _, code := kiln(t, root, "inspect", strings.TrimPrefix(id, "sha256:")[:12]); code != 0 {
		t.Errorf("inspect by short ID: got exit status %d, want 0", code)
	}
}

// A later build of the same name moves the tag; the old image stays
// reachable by its ID, as Docker keeps a dangling image until a prune.
func TestRetagKeepsOldImage(t *testing.T) {
	root := newBusyboxRoot(t)
	_, old := build(t, root, newContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo v1 > /v\n"}), "-t", "moving")
	build(t, root, newContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo v2 > /v\n"}), "-t", "moving")
	if stdout, _ := mustKiln(t, root, "run", "--rm", "moving", "cat", "/v"); stdout != "v2\n" {
		t.Errorf("run moving: got %q, want %q", stdout, "v2\n")
	}
	if stdout, _ := mustKiln(t, root, "run", "--rm", old, "cat", "/v"); stdout != "v1\n" {
		t.Errorf("run %s (the old moving): got %q, want %q", old, stdout, "v1\n")
	}
}
