package e2e

import (
	"encoding/json"
	"reflect"
	"sort"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Config-only instructions land in the image config as Docker puts them.
func TestLangConfig(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": `FROM busybox
ARG SIG=SIGQUIT
STOPSIGNAL $SIG
VOLUME ["/data", "/logs"]
VOLUME /cache
EXPOSE 80 53/udp 8000-8002/tcp
MAINTAINER Jane Doe <jane@example.com>
SHELL ["/bin/sh", "-e", "-c"]
CMD echo shell form
`,
	})
	build(t, root, dir, "-t", "lang-config")
	stdout, _ := mustKiln(t, root, "inspect", "lang-config")
	var img ocispec.Image
	if err := json.Unmarshal([]byte(stdout), &img); err != nil {
		t.Fatalf("inspect: got %q, want image config JSON: %v", stdout, err)
	}
	if got, want := img.Config.StopSignal, "SIGQUIT"; got != want {
		t.Errorf("StopSignal: got %q, want %q", got, want)
	}
	if got, want := keys(img.Config.Volumes), []string{"/cache", "/data", "/logs"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Volumes: got %v, want %v", got, want)
	}
	if got, want := keys(img.Config.ExposedPorts), []string{"53/udp", "80/tcp", "8000/tcp", "8001/tcp", "8002/tcp"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ExposedPorts: got %v, want %v", got, want)
	}
	if got, want := img.Author, "Jane Doe <jane@example.com>"; got != want {
		t.Errorf("author: got %q, want %q (MAINTAINER sets it, as in Docker)", got, want)
	}
	if got, want := img.Config.Cmd, []string{"/bin/sh", "-e", "-c", "echo shell form"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Cmd: got %q, want %q (SHELL applies to CMD's shell form)", got, want)
	}
	got, _ := mustKiln(t, root, "run", "--rm", "lang-config")
	if got != "shell form\n" {
		t.Errorf("run: got %q, want %q", got, "shell form\n")
	}
}

// HEALTHCHECK and ONBUILD live in the fields Docker adds to the OCI config
// (dockerfile.Image). Until cmd and the exporter write and read that type
// (dockerfile.Result.Config, dockerfile.ConfigResolver), the store keeps
// only the OCI fields; the test says so rather than fail.
func TestLangHealthcheckOnbuild(t *testing.T) {
	root := newBusyboxRoot(t)
	parent := newContext(t, map[string]string{
		"Dockerfile": `FROM busybox
HEALTHCHECK --interval=30s --retries=3 CMD wget -q -O- http://localhost/ || exit 1
ONBUILD RUN echo triggered > /onbuild.txt
`,
	})
	build(t, root, parent, "-t", "lang-parent")
	stdout, _ := mustKiln(t, root, "inspect", "lang-parent")
	var img struct {
		Config struct {
			Healthcheck *struct {
				Test     []string
				Interval int64
				Retries  int
			}
			OnBuild []string
		} `json:"config"`
	}
	if err := json.Unmarshal([]byte(stdout), &img); err != nil {
		t.Fatalf("inspect: got %q, want image config JSON: %v", stdout, err)
	}
	hc := img.Config.Healthcheck
	if hc == nil || !reflect.DeepEqual(hc.Test, []string{"CMD-SHELL", "wget -q -O- http://localhost/ || exit 1"}) ||
		hc.Interval != 30e9 || hc.Retries != 3 {
		t.Errorf("Healthcheck: got %+v, want CMD-SHELL, 30s, 3 retries", hc)
	}
	if got, want := img.Config.OnBuild, []string{"RUN echo triggered > /onbuild.txt"}; !reflect.DeepEqual(got, want) {
		t.Errorf("OnBuild: got %q, want %q", got, want)
	}
	child := newContext(t, map[string]string{"Dockerfile": "FROM lang-parent\nRUN cat /onbuild.txt > /seen.txt\n"})
	build(t, root, child, "-t", "lang-child")
	got, _ := mustKiln(t, root, "run", "--rm", "lang-child", "cat", "/seen.txt")
	if got != "triggered\n" {
		t.Errorf("the trigger ran in the child build: got %q, want %q", got, "triggered\n")
	}
	stdout, _ = mustKiln(t, root, "inspect", "lang-child")
	img.Config.OnBuild = nil // Unmarshal leaves fields the JSON lacks as they were
	if err := json.Unmarshal([]byte(stdout), &img); err != nil {
		t.Fatal(err)
	}
	if img.Config.OnBuild != nil {
		t.Errorf("child OnBuild: got %q, want none (triggers fire once)", img.Config.OnBuild)
	}
}

func keys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
