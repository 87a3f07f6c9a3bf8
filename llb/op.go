package llb

import (
	digest "github.com/opencontainers/go-digest"
)

// Op is one operation of the build graph. Its canonical encoding (JSON of the
// concrete type, tagged by Kind) is what a vertex's digest covers.
type Op interface {
	// Kind names the operation in the encoding and in dumps.
	Kind() string
}

// SourceOp is an image from the local store, pinned by manifest digest. Its
// result is the image's layer chain.
type SourceOp struct {
	Ref    string        `json:"ref"`    // the reference as written, for display
	Digest digest.Digest `json:"digest"` // the manifest digest the frontend resolved
}

// LocalOp is a directory handed in by the user: the build context. A vertex
// with a LocalOp has no layers of its own; consumers select files from it,
// and their cache keys cover the content of exactly what they select.
type LocalOp struct {
	Name     string   `json:"name"`               // "context"
	Excludes []string `json:"excludes,omitempty"` // .dockerignore patterns (moby/patternmatcher syntax)
}

// Network modes for ExecOp.
const (
	NetworkDefault = ""     // the host's network, as Docker's classic builder
	NetworkHost    = "host" // the host's network
	NetworkNone    = "none" // a new network namespace with only loopback up
)

// ExecOp runs a process over its single input (the root filesystem; nil for
// scratch). Its result is the input's layers plus one layer holding what the
// process changed.
type ExecOp struct {
	Args    []string `json:"args"`              // argv; the shell is already applied
	Env     []string `json:"env"`               // KEY=VALUE, in order
	Cwd     string   `json:"cwd"`               // absolute; created if missing
	User    string   `json:"user,omitempty"`    // name or uid[:gid], resolved in the rootfs
	Network string   `json:"network,omitempty"` // one of the Network constants
}

// CopyOp copies files from its second input (the source: a LocalOp vertex,
// or a root filesystem) into its first (the destination root filesystem; nil
// for scratch). Its result is the destination's layers plus one layer with
// the copied files.
//
// Semantics follow Docker's COPY: each source is a path (wildcards allowed)
// relative to the source root; a directory source copies its contents; Dest
// is absolute and, when it ends in "/" or there are several sources, a
// directory created as needed.
type CopyOp struct {
	Src   []string `json:"src"`
	Dest  string   `json:"dest"`
	Chown string   `json:"chown,omitempty"` // user[:group], names resolved in the destination
	Chmod string   `json:"chmod,omitempty"` // octal, e.g. "0755"
}

func (*SourceOp) Kind() string { return "source" }
func (*LocalOp) Kind() string  { return "local" }
func (*ExecOp) Kind() string   { return "exec" }
func (*CopyOp) Kind() string   { return "copy" }
