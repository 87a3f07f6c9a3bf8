package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// RUN --mount=type=cache keeps its content between builds, by id.
func TestRunMountCachePersists(t *testing.T) {
	root := newBusyboxRoot(t)
	df := "FROM busybox\nARG N\nRUN --mount=type=cache,target=/cache,id=c1 echo $N >> /cache/log && cat /cache/log > /seen\n"
	dir := newContext(t, map[string]string{"Dockerfile": df})
	build(t, root, dir, "--build-arg", "N=1", "-t", "one")
	build(t, root, dir, "--build-arg", "N=2", "-t", "two")
	stdout, _ := mustKiln(t, root, "run", "--rm", "two", "cat", "/seen")
	if stdout != "1\n2\n" {
		t.Errorf("cache mount across builds: got %q, want %q", stdout, "1\n2\n")
	}
	// Nothing of the mount is in the image.
	if _, _, code := kiln(t, root, "run", "--rm", "two", "test", "-e", "/cache/log"); code == 0 {
		t.Errorf("got /cache/log in the image, want the cache mount's content left out")
	}
}

// A secret is readable in the RUN and nowhere in the image: not its
// filesystem, not its config or history.
func TestRunMountSecret(t *testing.T) {
	root := newBusyboxRoot(t)
	const secret = "hunter2-e2e-secret"
	secretFile := filepath.Join(t.TempDir(), "tok")
	if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	df := "FROM busybox\nRUN --mount=type=secret,id=tok cat /run/secrets/tok > /copied-len && wc -c < /run/secrets/tok > /len\n" +
		"RUN --mount=type=secret,id=tok,target=/etc/tok,required=true test -f /etc/tok\n"
	dir := newContext(t, map[string]string{"Dockerfile": df})
	_, stderr := mustKiln(t, root, "build", "--progress", "plain", "--secret", "id=tok,src="+secretFile, "-t", "sec", dir)
	if strings.Contains(stderr, secret) {
		t.Errorf("got the secret in the progress output, want it nowhere")
	}
	stdout, _ := mustKiln(t, root, "run", "--rm", "sec", "cat", "/len")
	if strings.TrimSpace(stdout) != "18" {
		t.Errorf("secret length: got %q, want 18", stdout)
	}
	if _, _, code := kiln(t, root, "run", "--rm", "sec", "ls", "/run/secrets"); code == 0 {
		t.Errorf("kiln run sec ls /run/secrets: got exit 0, want the directory absent")
	}
	if _, _, code := kiln(t, root, "run", "--rm", "sec", "test", "-e", "/etc/tok"); code == 0 {
		t.Errorf("got /etc/tok in the image, want the mount point gone")
	}
	inspect, _ := mustKiln(t, root, "inspect", "sec")
	if strings.Contains(inspect, secret) {
		t.Errorf("kiln inspect shows the secret")
	}
	// A required secret not given fails, naming it, once the step runs
	// (from cache it needs none, as with BuildKit).
	_, stderr, code := kiln(t, root, "build", "-q", "--no-cache", dir)
	if code == 0 || !strings.Contains(stderr, "tok") {
		t.Errorf("build without the secret: got exit %d, stderr %q; want a failure naming tok", code, stderr)
	}
}

// A bind mount from another stage is read-only by default, rw throws its
// writes away, and the context bind re-runs the RUN when its files change.
func TestRunMountBind(t *testing.T) {
	root := newBusyboxRoot(t)
	df := `FROM busybox AS tools
RUN mkdir /tools && echo tool > /tools/t

FROM busybox
RUN --mount=type=bind,from=tools,source=/tools,target=/mnt cat /mnt/t > /from-stage && (touch /mnt/x 2>/dev/null && echo rw || echo ro) > /mode
RUN --mount=type=bind,from=tools,source=/tools,target=/mnt,rw touch /mnt/x && echo ok > /rw
RUN --mount=type=bind,source=src,target=/src cat /src/v > /ctx
RUN --network=none sh -c 'ip link 2>/dev/null | grep -c "^[0-9]" > /links || echo 1 > /links'
`
	dir := newContext(t, map[string]string{"Dockerfile": df, "src/v": "v1\n"})
	build(t, root, dir, "-t", "b")
	stdout, _ := mustKiln(t, root, "run", "--rm", "b", "cat", "/from-stage", "/mode", "/rw", "/ctx", "/links")
	if want := "tool\nro\nok\nv1\n1\n"; stdout != want {
		t.Errorf("got %q, want %q", stdout, want)
	}
	if _, _, code := kiln(t, root, "run", "--rm", "b", "test", "-e", "/mnt/t"); code == 0 {
		t.Errorf("got /mnt/t in the image, want the bind mount's content left out")
	}
	log, _ := build(t, root, dir, "-t", "b")
	log.wantCached(t, "cat /src/v")
	writeFiles(t, dir, map[string]string{"src/v": "v2\n"})
	log, _ = build(t, root, dir, "-t", "b")
	log.wantRan(t, "cat /src/v")
	stdout, _ = mustKiln(t, root, "run", "--rm", "b", "cat", "/ctx")
	if stdout != "v2\n" {
		t.Errorf("after editing src/v: got %q, want %q", stdout, "v2\n")
	}
}
