package registry

import (
	"bytes"
	"io"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestParseReference(t *testing.T) {
	for _, c := range []struct{ in, registry, repo, ref string }{
		{"busybox", "registry-1.docker.io", "library/busybox", "latest"},
		{"busybox:1.36", "registry-1.docker.io", "library/busybox", "1.36"},
		{"user/app", "registry-1.docker.io", "user/app", "latest"},
		{"docker.io/busybox", "registry-1.docker.io", "library/busybox", "latest"},
		{"docker.io/user/app:v2", "registry-1.docker.io", "user/app", "v2"},
		{"127.0.0.1:5000/busybox", "127.0.0.1:5000", "busybox", "latest"},
		{"localhost/a/b:c", "localhost", "a/b", "c"},
		{"ghcr.io/o/r@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "ghcr.io", "o/r", "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
	} {
		r, err := ParseReference(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if r.Registry != c.registry || r.Repository != c.repo || r.Reference != c.ref {
			t.Errorf("%s: got %s %s %s, want %s %s %s", c.in, r.Registry, r.Repository, r.Reference, c.registry, c.repo, c.ref)
		}
	}
}

func TestIsInsecure(t *testing.T) {
	c := &Client{opt: Options{Insecure: []string{"reg.lan:5000", "other.lan"}}}
	for host, want := range map[string]bool{
		"127.0.0.1:5000": true, "127.1.2.3": true, "[::1]:5000": true, "localhost:5000": true,
		"reg.lan:5000": true, "reg.lan:6000": false, "other.lan:443": true, "ghcr.io": false, "10.0.0.1:5000": false,
	} {
		if got := c.isInsecure(host); got != want {
			t.Errorf("isInsecure(%q): got %v, want %v", host, got, want)
		}
	}
}

func TestMeterReportsLargeBlobs(t *testing.T) {
	var events []Event
	st := storage{progress: func(e Event) { events = append(events, e) }}
	small := ocispec.Descriptor{Size: 10}
	if r := st.meter(strings.NewReader("0123456789"), small); r == nil {
		t.Fatal("meter returned nil")
	} else if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}
	if len(events) != 0 {
		t.Errorf("small blob: got %d progress events, want 0", len(events))
	}
	big := ocispec.Descriptor{Size: progressMin}
	if _, err := io.Copy(io.Discard, st.meter(bytes.NewReader(make([]byte, progressMin)), big)); err != nil {
		t.Fatal(err)
	}
	if len(events) == 0 || events[len(events)-1].Done != progressMin || events[len(events)-1].Kind != "progress" {
		t.Errorf("large blob: got events %+v, want the last to report %d bytes done", events, progressMin)
	}
}
