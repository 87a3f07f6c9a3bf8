package llb

import (
	"encoding/json"
	"fmt"
	"sync"

	digest "github.com/opencontainers/go-digest"
)

// Meta describes a vertex for people: progress lines and error messages. It
// is not part of the digest, so two stages that run the same step on the
// same input share one vertex.
type Meta struct {
	Name string `json:"name,omitempty"` // e.g. "[build 2/4] RUN make"
	File string `json:"file,omitempty"` // source file of the step, e.g. "Dockerfile"
	Line int    `json:"line,omitempty"` // 1-based line of the step in File
	Text string `json:"text,omitempty"` // the step as written, e.g. "RUN make"
}

// Vertex is a node of the build graph: an operation over the results of its
// inputs. A nil input stands for the empty filesystem (scratch).
type Vertex struct {
	Op     Op
	Inputs []*Vertex
	Meta   Meta

	once   sync.Once
	digest digest.Digest
}

// NewVertex returns a vertex for op over inputs.
func NewVertex(op Op, meta Meta, inputs ...*Vertex) *Vertex {
	return &Vertex{Op: op, Inputs: inputs, Meta: meta}
}

// encoding is the canonical form of a vertex: the op tagged by kind and the
// digests of its inputs ("" for scratch). encoding/json writes struct fields
// in declaration order and sorts map keys, so it is stable.
type encoding struct {
	Kind   string          `json:"kind"`
	Op     Op              `json:"op"`
	Inputs []digest.Digest `json:"inputs"`
}

// Encode returns the canonical encoding of v.
func (v *Vertex) Encode() []byte {
	e := encoding{Kind: v.Op.Kind(), Op: v.Op, Inputs: make([]digest.Digest, len(v.Inputs))}
	for i, in := range v.Inputs {
		if in != nil {
			e.Inputs[i] = in.Digest()
		}
	}
	b, err := json.Marshal(e)
	if err != nil {
		// Ops are plain structs of strings; marshalling cannot fail.
		panic(fmt.Sprintf("llb: encode %s: %v", v.Op.Kind(), err))
	}
	return b
}

// Digest returns the digest of v's canonical encoding, computed once.
func (v *Vertex) Digest() digest.Digest {
	v.once.Do(func() { v.digest = digest.FromBytes(v.Encode()) })
	return v.digest
}

// Walk calls fn for every vertex reachable from roots exactly once, inputs
// before the vertices that use them. Vertices with equal digests are visited
// once.
func Walk(roots []*Vertex, fn func(*Vertex) error) error {
	seen := map[digest.Digest]bool{}
	var visit func(*Vertex) error
	visit = func(v *Vertex) error {
		if v == nil || seen[v.Digest()] {
			return nil
		}
		seen[v.Digest()] = true
		for _, in := range v.Inputs {
			if err := visit(in); err != nil {
				return err
			}
		}
		return fn(v)
	}
	for _, r := range roots {
		if err := visit(r); err != nil {
			return err
		}
	}
	return nil
}
