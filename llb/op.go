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

// ExecOp runs a process over its first input (the root filesystem; nil for
// scratch). Its result is that input's layers plus one layer holding what
// the process changed. Further inputs are sources for Mounts.
type ExecOp struct {
	Args    []string `json:"args"`              // argv; the shell is already applied
	Env     []string `json:"env"`               // KEY=VALUE, in order
	Cwd     string   `json:"cwd"`               // absolute; created if missing
	User    string   `json:"user,omitempty"`    // name or uid[:gid], resolved in the rootfs
	Network string   `json:"network,omitempty"` // one of the Network constants
	Mounts  []Mount  `json:"mounts,omitempty"`  // RUN --mount, in order
}

// Mount types for ExecOp.Mounts (RUN --mount=type=…).
const (
	MountBind   = "bind"
	MountCache  = "cache"
	MountTmpfs  = "tmpfs"
	MountSecret = "secret"
	MountSSH    = "ssh"
)

// Mount is one RUN --mount. Nothing mounted ever lands in the step's layer.
// For a secret, only its ID is part of the op (and so of the cache key),
// never its content.
type Mount struct {
	Type     string `json:"type"`               // one of the Mount constants
	Target   string `json:"target"`             // absolute path in the container
	Input    int    `json:"input,omitempty"`    // bind, cache: index into the vertex's Inputs of the source filesystem; 0 (the rootfs) means none
	Source   string `json:"source,omitempty"`   // bind, cache: path inside that input; secret: unused
	ReadOnly bool   `json:"readonly,omitempty"` // bind defaults to read-only, cache to read-write
	ID       string `json:"id,omitempty"`       // cache: the cache's id (default Target); secret: the secret's id
	Sharing  string `json:"sharing,omitempty"`  // cache: shared, private or locked
	Mode     uint32 `json:"mode,omitempty"`     // cache, secret: permissions of the mount point / file
	UID      int    `json:"uid,omitempty"`      // cache, secret: owner
	GID      int    `json:"gid,omitempty"`
	Size     int64  `json:"size,omitempty"`     // tmpfs: bytes, 0 for the default
	Required bool   `json:"required,omitempty"` // secret: fail when not given
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
	Src     []string `json:"src"`
	Dest    string   `json:"dest"`
	Chown   string   `json:"chown,omitempty"`   // user[:group], names resolved in the destination
	Chmod   string   `json:"chmod,omitempty"`   // octal, e.g. "0755"
	Exclude []string `json:"exclude,omitempty"` // COPY --exclude patterns
	Parents bool     `json:"parents,omitempty"` // COPY --parents: keep the source's directories
	Link    bool     `json:"link,omitempty"`    // COPY --link: the layer does not depend on the destination
	// Extract makes a local tar archive source (gzip, bzip2, xz, zstd or
	// plain) unpack into Dest instead of being copied: ADD's rule.
	Extract bool `json:"extract,omitempty"`
}

// HTTPOp is a file fetched over http(s) (ADD URL). Its result is a
// filesystem holding that one file, named Filename, for a CopyOp to take.
type HTTPOp struct {
	URL      string        `json:"url"`
	Checksum digest.Digest `json:"checksum,omitempty"` // ADD --checksum: verified after download
	Filename string        `json:"filename"`           // the name in the result
}

func (*SourceOp) Kind() string { return "source" }
func (*LocalOp) Kind() string  { return "local" }
func (*ExecOp) Kind() string   { return "exec" }
func (*CopyOp) Kind() string   { return "copy" }
func (*HTTPOp) Kind() string   { return "http" }
func (*InlineOp) Kind() string { return "inline" }

// InlineOp is a filesystem of files whose content is part of the op itself,
// such as a COPY <<EOF here-document. Its result is one layer holding them,
// for a CopyOp to take.
type InlineOp struct {
	Files []InlineFile `json:"files"`
}

// InlineFile is one file of an InlineOp.
type InlineFile struct {
	Name string `json:"name"` // a single path element
	Data string `json:"data"`
	Mode uint32 `json:"mode"` // permission bits
}
