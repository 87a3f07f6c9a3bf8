package main

import (
	"strings"
	"testing"

	"github.com/kiln-build/kiln/container"
)

func TestParseVolumeFlag(t *testing.T) {
	for _, c := range []struct {
		in   string
		want container.Mount
		err  string
	}{
		{in: "/h:/c", want: container.Mount{Type: "bind", Source: "/h", Target: "/c"}},
		{in: "/h/../h2/:/c/:ro", want: container.Mount{Type: "bind", Source: "/h2", Target: "/c", ReadOnly: true}},
		{in: "data:/c:rw", want: container.Mount{Type: "volume", Source: "data", Target: "/c"}},
		{in: "/c", want: container.Mount{Type: "volume", Target: "/c", Anonymous: true}},
		{in: "x:/c", err: "invalid volume name"},
		{in: "./rel:/c", err: "neither an absolute host path nor a volume name"},
		{in: "/h:c", err: "not an absolute path"},
		{in: "/h:/", err: "cannot mount on /"},
		{in: "/h:/c:rx", err: `unknown option "rx"`},
		{in: ":/c", err: "empty source"},
		{in: "a:b:c:d", err: "want [SOURCE:]TARGET"},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := parseVolumeFlag(c.in)
			checkMount(t, got, err, c.want, c.err, "-v "+c.in)
		})
	}
}

func TestParseMountFlag(t *testing.T) {
	for _, c := range []struct {
		in   string
		want container.Mount
		err  string
	}{
		{in: "type=bind,source=/h,target=/c,readonly", want: container.Mount{Type: "bind", Source: "/h", Target: "/c", ReadOnly: true}},
		{in: "type=bind,src=/h,dst=/c,ro=false", want: container.Mount{Type: "bind", Source: "/h", Target: "/c"}},
		{in: "source=v1,target=/c", want: container.Mount{Type: "volume", Source: "v1", Target: "/c"}},
		{in: "type=volume,destination=/c", want: container.Mount{Type: "volume", Target: "/c", Anonymous: true}},
		{in: "type=tmpfs,target=/t,tmpfs-size=64m", want: container.Mount{Type: "tmpfs", Target: "/t", Size: 64 << 20}},
		{in: `type=bind,"source=/a,b",target=/c`, want: container.Mount{Type: "bind", Source: "/a,b", Target: "/c"}},
		{in: "type=nfs,target=/c", err: `unknown type "nfs"`},
		{in: "type=bind,target=/c", err: "source is required"},
		{in: "type=bind,source=rel,target=/c", err: "not an absolute path"},
		{in: "type=volume,source=v1", err: "target is required"},
		{in: "type=tmpfs,source=x,target=/t", err: "no source"},
		{in: "type=tmpfs,target=/t,readonly", err: "read-only tmpfs"},
		{in: "type=volume,source=v1,target=/c,tmpfs-size=1", err: "type=tmpfs only"},
		{in: "target=/c,readonly=maybe", err: "readonly=maybe"},
		{in: "target=/c,foo=bar", err: `unknown key "foo"`},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := parseMountFlag(c.in)
			checkMount(t, got, err, c.want, c.err, "--mount "+c.in)
		})
	}
}

func TestParseTmpfsFlag(t *testing.T) {
	for _, c := range []struct {
		in   string
		want container.Mount
		err  string
	}{
		{in: "/t", want: container.Mount{Type: "tmpfs", Target: "/t"}},
		{in: "/t:rw,size=1g,mode=1777", want: container.Mount{Type: "tmpfs", Target: "/t", Size: 1 << 30}},
		{in: "/t:size=12k", want: container.Mount{Type: "tmpfs", Target: "/t", Size: 12 << 10}},
		{in: "t", err: "not an absolute path"},
		{in: "/t:size=-1", err: "invalid size"},
		{in: "/t:huge", err: `unknown option "huge"`},
		{in: "/t:ro", err: `unknown option "ro"`},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := parseTmpfsFlag(c.in)
			checkMount(t, got, err, c.want, c.err, "--tmpfs "+c.in)
		})
	}
}

func checkMount(t *testing.T, got container.Mount, err error, want container.Mount, wantErr, prefix string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) || !strings.HasPrefix(err.Error(), prefix) {
			t.Fatalf("got %+v, %v; want an error starting %q containing %q", got, err, prefix, wantErr)
		}
		return
	}
	if err != nil || got != want {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
}

func FuzzParseMountFlag(f *testing.F) {
	for _, s := range []string{"type=bind,source=/h,target=/c", "target=/c,tmpfs-size=1", `"a,b"=c`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseMountFlag(s)
		if err == nil && (m.Target == "" || m.Target[0] != '/') {
			t.Fatalf("%q: accepted target %q", s, m.Target)
		}
		_, _ = parseVolumeFlag(s)
		_, _ = parseTmpfsFlag(s)
	})
}
