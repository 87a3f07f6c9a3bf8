package llb

import (
	"bytes"
	"strings"
	"testing"
)

func TestDigestIgnoresMeta(t *testing.T) {
	base := NewVertex(&SourceOp{Ref: "busybox", Digest: "sha256:00"}, Meta{Name: "FROM busybox"})
	a := NewVertex(&ExecOp{Args: []string{"true"}, Cwd: "/"}, Meta{Name: "[a 1/1] RUN true", Line: 3}, base)
	b := NewVertex(&ExecOp{Args: []string{"true"}, Cwd: "/"}, Meta{Name: "[b 1/1] RUN true", Line: 9}, base)
	if a.Digest() != b.Digest() {
		t.Fatalf("got digests %s and %s for the same op, want equal", a.Digest(), b.Digest())
	}
}

func TestDigestCoversOpAndInputs(t *testing.T) {
	base := NewVertex(&SourceOp{Ref: "busybox", Digest: "sha256:00"}, Meta{})
	other := NewVertex(&SourceOp{Ref: "busybox", Digest: "sha256:01"}, Meta{})
	cases := map[string]*Vertex{
		"args":    NewVertex(&ExecOp{Args: []string{"false"}, Cwd: "/"}, Meta{}, base),
		"env":     NewVertex(&ExecOp{Args: []string{"true"}, Env: []string{"A=1"}, Cwd: "/"}, Meta{}, base),
		"cwd":     NewVertex(&ExecOp{Args: []string{"true"}, Cwd: "/x"}, Meta{}, base),
		"user":    NewVertex(&ExecOp{Args: []string{"true"}, Cwd: "/", User: "1"}, Meta{}, base),
		"network": NewVertex(&ExecOp{Args: []string{"true"}, Cwd: "/", Network: NetworkNone}, Meta{}, base),
		"input":   NewVertex(&ExecOp{Args: []string{"true"}, Cwd: "/"}, Meta{}, other),
		"scratch": NewVertex(&ExecOp{Args: []string{"true"}, Cwd: "/"}, Meta{}, nil),
	}
	ref := NewVertex(&ExecOp{Args: []string{"true"}, Cwd: "/"}, Meta{}, base)
	seen := map[string]string{ref.Digest().String(): "reference"}
	for name, v := range cases {
		if prev, ok := seen[v.Digest().String()]; ok {
			t.Errorf("%s: got the same digest as %s, want a different one", name, prev)
		}
		seen[v.Digest().String()] = name
	}
}

func TestWalkVisitsSharedVertexOnce(t *testing.T) {
	base := NewVertex(&SourceOp{Ref: "busybox", Digest: "sha256:00"}, Meta{})
	a := NewVertex(&ExecOp{Args: []string{"a"}, Cwd: "/"}, Meta{}, base)
	b := NewVertex(&ExecOp{Args: []string{"b"}, Cwd: "/"}, Meta{}, base)
	top := NewVertex(&CopyOp{Src: []string{"/x"}, Dest: "/y"}, Meta{}, a, b)
	var order []string
	if err := Walk([]*Vertex{top}, func(v *Vertex) error { order = append(order, v.Op.Kind()); return nil }); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(order, ","), "source,exec,exec,copy"; got != want {
		t.Fatalf("got order %s, want %s", got, want)
	}
	var buf bytes.Buffer
	if err := Dump(&buf, top); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(buf.String(), "sha256:"); got < 4 {
		t.Fatalf("dump mentions %d digests, want at least 4:\n%s", got, buf.String())
	}
}
