package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// COPY --from takes files from another stage, by name or by index, and
// --chown/--chmod set what the copies get.
func TestCopyFromChownChmod(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": `FROM busybox AS builder
RUN mkdir -p /out && echo built > /out/artifact && echo zero > /zero

FROM busybox
COPY --from=builder /out/artifact /by-name
COPY --from=0 /zero /by-index
COPY --chown=1000:1000 owned.txt /owned.txt
COPY --chmod=0700 secret.sh /secret.sh
COPY --chown=1000:1000 --chmod=0640 dir/ /copied-dir/
`,
		"owned.txt":  "owned\n",
		"secret.sh":  "#!/bin/sh\necho secret\n",
		"dir/a.txt":  "a\n",
		"dir/sub/b":  "b\n",
		"ignored.md": "not copied\n",
	})
	build(t, root, dir, "-t", "copies")

	stdout, _ := mustKiln(t, root, "run", "--rm", "copies", "cat", "/by-name", "/by-index")
	if stdout != "built\nzero\n" {
		t.Errorf("COPY --from: got %q, want %q", stdout, "built\nzero\n")
	}
	stdout, _ = mustKiln(t, root, "run", "--rm", "copies", "stat", "-c", "%n %u:%g %a", "/owned.txt", "/secret.sh", "/copied-dir/a.txt", "/copied-dir/sub/b")
	want := "/owned.txt 1000:1000 644\n/secret.sh 0:0 700\n/copied-dir/a.txt 1000:1000 640\n/copied-dir/sub/b 1000:1000 640\n"
	if stdout != want {
		t.Errorf("COPY --chown/--chmod: got\n%s\nwant\n%s", stdout, want)
	}
	stdout, _ = mustKiln(t, root, "run", "--rm", "copies", "ls", "-ln", "/owned.txt")
	if f := strings.Fields(stdout); len(f) < 4 || f[2] != "1000" || f[3] != "1000" {
		t.Errorf("ls -ln /owned.txt: got %q, want owner 1000 1000", stdout)
	}
	stdout, _ = mustKiln(t, root, "run", "--rm", "copies", "/secret.sh")
	if stdout != "secret\n" {
		t.Errorf("run /secret.sh: got %q, want %q", stdout, "secret\n")
	}
	// The stage copied from is not in the final image.
	if _, _, code := kiln(t, root, "run", "--rm", "copies", "test", "-e", "/out/artifact"); code == 0 {
		t.Errorf("run copies test -e /out/artifact: got 0, want non-zero (the builder stage's files stay there)")
	}
}

// --print-llb prints the build graph, with digests, and builds nothing.
func TestPrintLLB(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nCOPY a.txt /a.txt\nRUN echo printed-not-run\n",
		"a.txt":      "a\n",
	})
	stdout, stderr := mustKiln(t, root, "build", "--print-llb", "-t", "llb", dir)
	digests := regexp.MustCompile(`sha256:[0-9a-f]{64}`).FindAllString(stdout, -1)
	if len(digests) < 3 {
		t.Errorf("--print-llb: got %d digests in\n%s\nwant one per vertex and input", len(digests), stdout)
	}
	for _, want := range []string{"RUN echo printed-not-run", "COPY a.txt /a.txt", "Dockerfile:3"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--print-llb: got\n%s\nwant %q in it", stdout, want)
		}
	}
	if strings.Contains(stderr, "printed-not-run\n#") || strings.Contains(stderr, "writing image") {
		t.Errorf("--print-llb: got stderr\n%s\nwant nothing built", stderr)
	}
	if _, _, code := kiln(t, root, "inspect", "llb"); code == 0 {
		t.Errorf("inspect llb after --print-llb: got exit status 0, want non-zero (nothing tagged)")
	}
	// The same Dockerfile prints the same graph.
	again, _ := mustKiln(t, root, "build", "--print-llb", dir)
	if again != stdout {
		t.Errorf("--print-llb twice: got different output\n%s\nthen\n%s", stdout, again)
	}
}

// -f takes a Dockerfile from outside the context, or from stdin.
func TestDockerfileFlag(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"data.txt":   "from the context\n",
		"Dockerfile": "FROM busybox\nRUN echo the-context-dockerfile-was-used && exit 1\n",
	})
	outside := filepath.Join(t.TempDir(), "elsewhere.Dockerfile")
	if err := os.WriteFile(outside, []byte("FROM busybox\nCOPY data.txt /data.txt\nRUN echo via-f > /via\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	build(t, root, dir, "-f", outside, "-t", "outside")
	stdout, _ := mustKiln(t, root, "run", "--rm", "outside", "cat", "/data.txt", "/via")
	if stdout != "from the context\nvia-f\n" {
		t.Errorf("-f outside the context: got %q, want %q", stdout, "from the context\nvia-f\n")
	}

	df := "FROM busybox\nCOPY data.txt /stdin-data.txt\nRUN echo via-stdin > /via\n"
	_, stderr, code := kilnStdin(t, root, strings.NewReader(df), "build", "--progress", "plain", "-f", "-", "-t", "stdin", dir)
	if code != 0 {
		t.Fatalf("build -f -: got exit status %d, want 0\nstderr:\n%s", code, stderr)
	}
	stdout, _ = mustKiln(t, root, "run", "--rm", "stdin", "cat", "/stdin-data.txt", "/via")
	if stdout != "from the context\nvia-stdin\n" {
		t.Errorf("-f -: got %q, want %q", stdout, "from the context\nvia-stdin\n")
	}

	// Errors name the Dockerfile given with -f.
	bad := filepath.Join(t.TempDir(), "Bad.Dockerfile")
	if err := os.WriteFile(bad, []byte("FROM busybox\nRUN exit 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = kiln(t, root, "build", "-f", bad, dir)
	if code == 0 || !strings.Contains(stderr, "Bad.Dockerfile:2: RUN exit 4: exit code 4") {
		t.Errorf("build -f Bad.Dockerfile: got exit status %d, stderr\n%s\nwant non-zero and %q", code, stderr, "Bad.Dockerfile:2: RUN exit 4: exit code 4")
	}
}

// KILN_ROOT chooses the store as --root does.
func TestKilnRootEnv(t *testing.T) {
	root := newBusyboxRoot(t)
	cmd := kilnCommand(t.Context(), root, "images")
	cmd.Args = []string{kilnBin, "images"}
	cmd.Env = append(cmd.Env, "KILN_ROOT="+root)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("KILN_ROOT=… kiln images: %v", err)
	}
	if !hasRow(strings.Split(string(out), "\n"), "busybox", "latest") {
		t.Errorf("KILN_ROOT=… kiln images: got\n%s\nwant the busybox image of that store", out)
	}
}

// The example in the repository builds and greets.
func TestExampleHello(t *testing.T) {
	root := newRoot(t)
	dir := filepath.Join(t.TempDir(), "hello")
	if err := copyDir(filepath.Join("..", "..", "examples", "hello"), dir); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(busyboxPath, filepath.Join(dir, "busybox")); err != nil {
		t.Fatal(err)
	}
	build(t, root, dir, "-t", "hello")
	stdout, _ := mustKiln(t, root, "run", "--rm", "hello")
	for _, want := range []string{"Hello from kiln!", "I am kiln", "(pid 1)", "running in /app."} {
		if !strings.Contains(stdout, want) {
			t.Errorf("run hello: got %q, want %q in it", stdout, want)
		}
	}
	build(t, root, dir, "-t", "bonjour", "--build-arg", "GREETING=Bonjour")
	stdout, _ = mustKiln(t, root, "run", "--rm", "bonjour")
	if !strings.HasPrefix(stdout, "Bonjour! ") {
		t.Errorf("run bonjour: got %q, want it to start with %q", stdout, "Bonjour! ")
	}
}

// Without --chown, COPY gives files to root whoever owns them in the
// context, keeping their mode; USER applies to the RUN steps after it.
func TestCopyOwnershipAndUser(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": `FROM busybox
COPY owned-by-1234 tool /
RUN mkdir -p /etc && echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' >> /etc/group
USER app
RUN id -u && (touch /not-mine 2>/dev/null && echo wrote-root || echo denied)
WORKDIR /home/app/work
RUN pwd && whoami
`,
		"owned-by-1234": "x\n",
		"tool":          "#!/bin/sh\necho tool\n",
	})
	if err := os.Chown(filepath.Join(dir, "owned-by-1234"), 1234, 1234); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "tool"), 0o751); err != nil {
		t.Fatal(err)
	}
	log, _ := build(t, root, dir, "-t", "owners")
	if out := strings.Join(log.step(t, "RUN id -u").output, " "); out != "1000 denied" {
		t.Errorf("RUN as USER app: got %q, want %q", out, "1000 denied")
	}
	if out := strings.Join(log.step(t, "RUN pwd").output, " "); out != "/home/app/work app" {
		t.Errorf("RUN pwd && whoami after WORKDIR: got %q, want %q", out, "/home/app/work app")
	}
	stdout, _ := mustKiln(t, root, "run", "--rm", "owners", "stat", "-c", "%n %u:%g %a", "/owned-by-1234", "/tool")
	if want := "/owned-by-1234 0:0 644\n/tool 0:0 751\n"; stdout != want {
		t.Errorf("COPY without --chown: got\n%s\nwant\n%s", stdout, want)
	}
}
