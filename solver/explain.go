package solver

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	digest "github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/llb"
)

// Explainer says why steps were not cached. It is given the history of the
// previous build of the same Dockerfile and target, records what this build
// sees of each step (History, to be saved for the next build), and, for each
// step that misses the cache, diffs the two: the instruction text, the
// environment, the files a COPY selected, the base image, the parent step.
// It also remembers each step's key input, so the cache can be exported with
// what each key was computed from.
//
// An Explainer is used by one Solve; its methods are safe for concurrent use.
type Explainer struct {
	prev      cache.History
	prevByKey map[digest.Digest]cache.StepHistory

	mu    sync.Mutex
	cur   map[string]cache.StepHistory
	byKey map[digest.Digest]cache.StepHistory
	files map[digest.Digest]map[string]string // vertex digest → selection, until why
	steps []KeyedStep
}

// KeyedStep is a step of the build: its cache key and the canonical JSON
// the key is the digest of.
type KeyedStep struct {
	Key   digest.Digest
	Input []byte
	Name  string
}

// ContextFiler is the optional part of a Store that keeps the selections of
// COPY steps, so that --explain can name changed files (*cache.Store).
type ContextFiler interface {
	ChecksumContextFiles(ctx context.Context, dir string, srcs, excludes []string, ignoreMode bool) (digest.Digest, map[string]string, error)
	PutContextFiles(content digest.Digest, files map[string]string) error
	ContextFiles(content digest.Digest) (map[string]string, bool, error)
}

var _ ContextFiler = (*cache.Store)(nil)

// ReasonNoHistory is the Reason of a step that no earlier build of the same
// Dockerfile and target ran.
const ReasonNoHistory = "no earlier build of this step"

// NewExplainer returns an Explainer comparing against prev (the zero
// History when there was no earlier build).
func NewExplainer(prev cache.History) *Explainer {
	e := &Explainer{
		prev:      prev,
		prevByKey: map[digest.Digest]cache.StepHistory{},
		cur:       map[string]cache.StepHistory{},
		byKey:     map[digest.Digest]cache.StepHistory{},
		files:     map[digest.Digest]map[string]string{},
	}
	for _, s := range prev.Steps {
		e.prevByKey[s.Key] = s
	}
	return e
}

// History returns what this build saw, for the next one to compare with.
func (e *Explainer) History() cache.History {
	e.mu.Lock()
	defer e.mu.Unlock()
	return cache.History{Steps: maps.Clone(e.cur)}
}

// Steps returns the steps keyed so far, in the order their keys were made.
func (e *Explainer) Steps() []KeyedStep {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.steps)
}

// StepID is how a step is matched with the same step of an earlier build:
// the stage and position from its name ("[build 2/4] RUN make" → "build 2"),
// which survive an edit of the instruction itself, or the name when it has
// no such prefix.
func StepID(name string) string {
	if strings.HasPrefix(name, "[") {
		if end := strings.Index(name, "]"); end > 0 {
			inner := name[1:end]
			if i := strings.LastIndex(inner, "/"); i > 0 {
				inner = inner[:i]
			}
			return inner
		}
	}
	return name
}

// checksum is ChecksumContext for the COPY cp, keeping the selection for
// the explanation when explaining. A --chmod gives every copied entry its
// mode, so the sources' modes (the umask of whoever checked them out) are
// left out of the key.
func (st *state) checksum(ctx context.Context, cp *llb.CopyOp, excludes []string) (digest.Digest, error) {
	e := st.opt.Explain
	cf, ok := st.store.(ContextFiler)
	if !ok || (e == nil && cp.Chmod == "") {
		return st.store.ChecksumContext(ctx, st.opt.ContextDir, cp.Src, excludes)
	}
	sum, files, err := cf.ChecksumContextFiles(ctx, st.opt.ContextDir, cp.Src, excludes, cp.Chmod != "")
	if err != nil {
		return "", err
	}
	if e == nil {
		return sum, nil
	}
	// Kept by content digest: an unchanged selection costs one lstat.
	if err := cf.PutContextFiles(sum, files); err != nil {
		return "", err
	}
	return sum, nil
}

// observe records the key of v and what it covers.
func (st *state) observe(v *llb.Vertex, k keyInput, key digest.Digest, enc []byte) {
	e := st.opt.Explain
	if e == nil {
		return
	}
	h := cache.StepHistory{
		ID: StepID(v.Meta.Name), Name: v.Meta.Name, Text: v.Meta.Text,
		Kind: k.Kind, Key: key, Inputs: k.Inputs, Content: k.Content,
	}
	if op, ok := v.Op.(*llb.ExecOp); ok {
		h.Env, h.Cwd, h.User = op.Env, op.Cwd, op.User
	}
	if op, ok := v.Op.(*llb.SourceOp); ok {
		h.Base, h.BaseRef = op.Digest, op.Ref
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cur[h.ID] = h
	e.byKey[key] = h
	if enc != nil {
		e.steps = append(e.steps, KeyedStep{Key: key, Input: enc, Name: v.Meta.Name})
	}
}

// why says why v, keyed key, was not found in the cache.
func (st *state) why(v *llb.Vertex, key digest.Digest) string {
	e := st.opt.Explain
	if e == nil {
		if st.opt.NoCache {
			return "--no-cache"
		}
		return ""
	}
	if st.opt.NoCache {
		return "--no-cache"
	}
	e.mu.Lock()
	cur, ok := e.byKey[key]
	e.mu.Unlock()
	if !ok {
		return ""
	}
	prev, ok := e.prev.Steps[cur.ID]
	if !ok {
		return ReasonNoHistory
	}
	if prev.Key == cur.Key {
		return "same inputs as the last build, but its cached result is gone (pruned, or the build was interrupted)"
	}
	var why []string
	if prev.Text != cur.Text {
		why = append(why, fmt.Sprintf("instruction changed (was %q)", prev.Text))
	}
	if prev.Kind != cur.Kind {
		return strings.Join(append(why, "step kind changed"), "; ")
	}
	why = append(why, envDiff(prev.Env, cur.Env)...)
	if prev.Cwd != cur.Cwd {
		why = append(why, fmt.Sprintf("working directory changed from %q to %q", prev.Cwd, cur.Cwd))
	}
	if prev.User != cur.User {
		why = append(why, fmt.Sprintf("user changed from %q to %q", prev.User, cur.User))
	}
	if prev.Content != cur.Content {
		why = append(why, st.filesDiff(prev.Content, cur.Content))
	}
	for i, in := range cur.Inputs {
		if i < len(prev.Inputs) && prev.Inputs[i] == in {
			continue
		}
		why = append(why, e.inputDiff(i, prev, in))
	}
	if len(why) == 0 {
		why = append(why, "instruction options changed")
	}
	return strings.Join(why, "; ")
}

func (e *Explainer) inputDiff(i int, prev cache.StepHistory, in digest.Digest) string {
	e.mu.Lock()
	src, ok := e.byKey[in]
	e.mu.Unlock()
	switch {
	case !ok:
		return "an input changed"
	case src.Kind == "source":
		var was cache.StepHistory
		if i < len(prev.Inputs) {
			was = e.prevByKey[prev.Inputs[i]]
		}
		if was.Base != "" {
			return fmt.Sprintf("base image %s changed: %s (was %s)", src.BaseRef, short(src.Base), short(was.Base))
		}
		return fmt.Sprintf("base image %s changed: %s", src.BaseRef, short(src.Base))
	case src.Kind == "local":
		return ".dockerignore changed"
	case i == 0:
		return fmt.Sprintf("previous step rebuilt: %s", src.Name)
	}
	return fmt.Sprintf("source step rebuilt: %s", src.Name)
}

func short(d digest.Digest) string {
	if len(d.Encoded()) > 12 {
		return d.Encoded()[:12]
	}
	return d.String()
}

// envDiff names the variables whose values differ, as build args and ENV
// both reach a RUN through its environment.
func envDiff(prev, cur []string) []string {
	toMap := func(env []string) map[string]string {
		m := map[string]string{}
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		return m
	}
	pm, cm := toMap(prev), toMap(cur)
	var out []string
	for _, k := range slices.Sorted(maps.Keys(cm)) {
		was, ok := pm[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s set to %q (was unset)", k, cm[k]))
		case was != cm[k]:
			out = append(out, fmt.Sprintf("%s changed to %q (was %q)", k, cm[k], was))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(pm)) {
		if _, ok := cm[k]; !ok {
			out = append(out, fmt.Sprintf("%s unset (was %q)", k, pm[k]))
		}
	}
	return out
}

// maxNamed is how many files a reason names before "and N more".
const maxNamed = 5

// filesDiff names the context files that differ between two selections.
func (st *state) filesDiff(prev, cur digest.Digest) string {
	cf, ok := st.store.(ContextFiler)
	if !ok || prev == "" {
		return "build context files changed"
	}
	pf, ok1, err1 := cf.ContextFiles(prev)
	cfs, ok2, err2 := cf.ContextFiles(cur)
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		return "build context files changed"
	}
	var changes []string
	for _, p := range slices.Sorted(maps.Keys(cfs)) {
		was, ok := pf[p]
		switch {
		case !ok:
			changes = append(changes, p+" added")
		case was != cfs[p]:
			changes = append(changes, p+" changed")
		}
	}
	for _, p := range slices.Sorted(maps.Keys(pf)) {
		if _, ok := cfs[p]; !ok {
			changes = append(changes, p+" removed")
		}
	}
	if len(changes) == 0 {
		return "build context files changed"
	}
	if len(changes) > maxNamed {
		n := len(changes) - maxNamed
		changes = append(changes[:maxNamed], fmt.Sprintf("and %d more", n))
	}
	return strings.Join(changes, ", ")
}
