package solver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/container"
	"github.com/kiln-build/kiln/executor"
	"github.com/kiln-build/kiln/exporter"
	"github.com/kiln-build/kiln/llb"
)

// Store is what the solver needs of the on-disk store (*cache.Store).
type Store interface {
	exporter.BlobStore
	TempDir(pattern string) (string, error)
	LayerDir(chainID digest.Digest) string
	Layer(chainID digest.Digest) (cache.Layer, bool, error)
	AddLayer(dir string, l cache.Layer) (cache.Layer, error)
	CacheRecord(key digest.Digest) (cache.Record, bool, error)
	PutCacheRecord(key digest.Digest, r cache.Record) error
	ChecksumContext(ctx context.Context, dir string, srcs, excludes []string) (digest.Digest, error)
}

// Executor runs processes and copies over layer stacks (*executor.Runner).
type Executor interface {
	Run(ctx context.Context, s executor.Spec) error
	Copy(ctx context.Context, c executor.CopySpec) error
}

var (
	_ Executor = (*executor.Runner)(nil)
	_ Store    = (*cache.Store)(nil)
)

// Options configure one Solve.
type Options struct {
	ContextDir string // the build context, for LocalOp sources
	NoCache    bool   // run every step; results are still recorded
	Hostname   string // hostname inside RUN steps
	Sink       Sink   // progress events; nil discards them
	// SourceDateEpoch, if set, clamps layer mtimes to it and is part of
	// every step's cache key (a layer cached without it has other mtimes).
	SourceDateEpoch *time.Time
	// Secrets are RUN --mount=type=secret contents by id. They reach the
	// executor only: never a layer, a cache key or an event.
	Secrets map[string][]byte
	// Explain, when set, records each step's key inputs and says in the
	// Started event's Reason why a step was not cached.
	Explain *Explainer
	// Limits apply to every RUN, each in a cgroup of its own (see limits.go).
	Limits container.Limits
}

// Solver runs DAGs against a store and an executor.
type Solver struct {
	store Store
	exec  Executor
}

// New returns a solver over store and exec.
func New(store Store, exec Executor) *Solver {
	return &Solver{store: store, exec: exec}
}

// Solve builds root and returns its layer chain, bottom first (including
// empty layers, which the exporter leaves out of the manifest). A nil root
// is the empty filesystem.
func (s *Solver) Solve(ctx context.Context, root *llb.Vertex, opt Options) ([]cache.Layer, error) {
	if opt.Sink == nil {
		opt.Sink = func(Event) {}
	}
	if opt.Hostname == "" {
		opt.Hostname = "kiln"
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	st := &state{Solver: s, opt: opt, jobs: map[digest.Digest]*job{}, cancel: cancel}
	r, err := st.solve(ctx, root)
	if err != nil {
		// The first failure cancels the rest; report that one, not the
		// cancellations it caused.
		if cause := context.Cause(ctx); cause != nil && cause != context.Canceled {
			return nil, cause
		}
		return nil, err
	}
	return r.layers, nil
}

// result is a solved vertex: its cache key and the filesystem it produced.
type result struct {
	key    digest.Digest
	layers []cache.Layer
	local  *llb.LocalOp // set for the build context, which has no layers
}

type job struct {
	done chan struct{}
	res  result
	err  error
}

// state is one Solve: the jobs by vertex digest, so a vertex reached along
// several paths (or written twice in the Dockerfile) runs once.
type state struct {
	*Solver
	opt    Options
	cancel context.CancelCauseFunc

	mu   sync.Mutex
	jobs map[digest.Digest]*job
}

func (st *state) solve(ctx context.Context, v *llb.Vertex) (result, error) {
	if v == nil {
		return result{}, nil
	}
	d := v.Digest()
	st.mu.Lock()
	j, ok := st.jobs[d]
	if !ok {
		j = &job{done: make(chan struct{})}
		st.jobs[d] = j
	}
	st.mu.Unlock()
	if ok {
		select {
		case <-j.done:
			return j.res, j.err
		case <-ctx.Done():
			return result{}, context.Cause(ctx)
		}
	}
	j.res, j.err = st.run(ctx, v)
	if j.err != nil {
		st.cancel(j.err)
	}
	close(j.done)
	return j.res, j.err
}

func (st *state) run(ctx context.Context, v *llb.Vertex) (result, error) {
	inputs := make([]result, len(v.Inputs))
	g, gctx := errgroup.WithContext(ctx)
	for i, in := range v.Inputs {
		g.Go(func() error {
			r, err := st.solve(gctx, in)
			inputs[i] = r
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return result{}, err
	}
	if err := context.Cause(ctx); err != nil {
		return result{}, err
	}

	switch op := v.Op.(type) {
	case *llb.LocalOp:
		st.observe(v, keyInput{Kind: op.Kind()}, v.Digest(), nil)
		return result{key: v.Digest(), local: op}, nil
	case *llb.SourceOp:
		return st.source(ctx, v, op)
	case *llb.ExecOp, *llb.CopyOp:
		return st.step(ctx, v, inputs)
	case *llb.InlineOp:
		return st.inline(ctx, v, op)
	case *llb.HTTPOp:
		return st.http(ctx, v, op)
	default:
		return result{}, fmt.Errorf("%s: %w", v.Op.Kind(), ErrUnknownOp)
	}
}

func (st *state) emit(v *llb.Vertex, kind EventKind, err error) {
	st.opt.Sink(Event{Vertex: v.Digest(), Name: v.Meta.Name, Kind: kind, Time: time.Now(), Err: err})
}

func (st *state) emitStarted(v *llb.Vertex, reason string) {
	st.opt.Sink(Event{Vertex: v.Digest(), Name: v.Meta.Name, Kind: Started, Time: time.Now(), Reason: reason})
}

func (st *state) source(ctx context.Context, v *llb.Vertex, op *llb.SourceOp) (result, error) {
	layers, _, err := Unpack(ctx, st.store, op.Digest)
	if err != nil {
		st.emit(v, Failed, err)
		return result{}, &VertexError{Meta: v.Meta, Err: err}
	}
	key := digest.FromString("source " + op.Digest.String())
	st.observe(v, keyInput{Kind: op.Kind()}, key, nil)
	st.emit(v, Cached, nil)
	return result{key: key, layers: layers}, nil
}

// keyInput is the canonical form a cache key is the digest of. It covers
// the whole op and the keys of its inputs (never their vertex digests alone,
// which do not cover context content), plus the checksum of the context
// files a COPY selects.
type keyInput struct {
	Version string          `json:"v"`
	Kind    string          `json:"kind"`
	Op      llb.Op          `json:"op"`
	Inputs  []digest.Digest `json:"inputs"`
	Content digest.Digest   `json:"content,omitempty"`
	Binds   []digest.Digest `json:"binds,omitempty"` // context checksums of RUN bind mounts (mounts.go)
}

func (st *state) cacheKey(ctx context.Context, v *llb.Vertex, inputs []result) (digest.Digest, error) {
	k := keyInput{Version: "kiln.v1", Kind: v.Op.Kind(), Op: v.Op, Inputs: make([]digest.Digest, len(inputs))}
	for i, in := range inputs {
		k.Inputs[i] = in.key
	}
	if cp, ok := v.Op.(*llb.CopyOp); ok && len(inputs) > 1 && inputs[1].local != nil {
		sum, err := st.checksum(ctx, cp, inputs[1].local.Excludes)
		if err != nil {
			return "", err
		}
		k.Content = sum
	}
	binds, err := st.bindSums(ctx, v.Op, inputs)
	if err != nil {
		return "", err
	}
	k.Binds = binds
	linkKeyInputs(v.Op, &k)
	b, err := json.Marshal(k)
	if err != nil {
		return "", fmt.Errorf("encode cache key: %w", err)
	}
	key := digest.FromBytes(b)
	st.observe(v, k, key, b)
	return key, nil
}

// step runs an Exec or Copy vertex, or takes its result from the cache.
func (st *state) step(ctx context.Context, v *llb.Vertex, inputs []result) (result, error) {
	fail := func(err error, tail []byte) (result, error) {
		st.emit(v, Failed, err)
		return result{}, &VertexError{Meta: v.Meta, Err: err, Tail: tail}
	}
	key, err := st.cacheKey(ctx, v, inputs)
	if err != nil {
		return fail(err, nil)
	}
	key = st.epochKey(key)
	base := inputs[0].layers
	if !st.opt.NoCache {
		r, ok, unlock, err := st.lookup(ctx, key)
		if err != nil {
			return fail(err, nil)
		}
		if ok {
			st.emit(v, Cached, nil)
			return result{key: key, layers: stack(v.Op, base, r.layers)}, nil
		}
		defer unlock()
	}

	st.emitStarted(v, st.why(v, key))
	dir, err := st.store.TempDir("step")
	if err != nil {
		return fail(err, nil)
	}
	defer os.RemoveAll(dir)
	rootfs := executor.Rootfs{
		Lower: st.lowerDirs(base),
		Upper: filepath.Join(dir, "upper"),
		Work:  filepath.Join(dir, "work"),
	}
	for _, d := range []string{rootfs.Upper, rootfs.Work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fail(err, nil)
		}
	}
	logs := newLogWriter(st.opt.Sink, v)
	switch op := v.Op.(type) {
	case *llb.ExecOp:
		mounts, release, merr := st.execMounts(ctx, op, inputs)
		if merr != nil {
			return fail(merr, nil)
		}
		defer release()
		err = st.runLimited(ctx, executor.Spec{
			Mounts:   mounts,
			Rootfs:   rootfs,
			Args:     op.Args,
			Env:      op.Env,
			Cwd:      op.Cwd,
			User:     op.User,
			Hostname: st.opt.Hostname,
			Network:  op.Network,
			Stdout:   logs.stream(1),
			Stderr:   logs.stream(2),
		})
	case *llb.CopyOp:
		c := executor.CopySpec{Dest: rootfs, Src: op.Src, DestPath: op.Dest, Chown: op.Chown, Chmod: op.Chmod}
		st.copySpec(&c, op, base)
		if src := inputs[1]; src.local != nil {
			c.SrcDir = st.opt.ContextDir
			c.Excludes = src.local.Excludes
		} else {
			c.SrcLower = st.lowerDirs(src.layers)
		}
		err = st.exec.Copy(ctx, c)
	}
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			err = cause
		}
		return fail(err, logs.tail())
	}

	blob, err := exporter.WriteLayer(ctx, st.store, rootfs.Upper, st.layerOptions()...)
	if err != nil {
		return fail(err, nil)
	}
	parent := topChain(base)
	if _, ok := linkCopy(v.Op); ok {
		parent = "" // a bottom layer, stacked on any base (copy.go)
	}
	l, err := st.store.AddLayer(rootfs.Upper, cache.Layer{
		ChainID: cache.ChainID(parent, blob.DiffID),
		DiffID:  blob.DiffID,
		Blob:    blob.Blob,
		Empty:   blob.Empty,
	})
	if err != nil {
		return fail(err, nil)
	}
	layers := append(append([]cache.Layer(nil), base...), l)
	own := layers
	if _, ok := linkCopy(v.Op); ok {
		own = []cache.Layer{l}
	}
	rec := cache.Record{Layers: make([]digest.Digest, len(own))}
	for i, l := range own {
		rec.Layers[i] = l.ChainID
	}
	if err := st.store.PutCacheRecord(key, rec); err != nil {
		return fail(err, nil)
	}
	st.emit(v, Done, nil)
	return result{key: key, layers: layers}, nil
}

// topChain is the chain ID the next layer stacks on. Empty layers are not
// part of the OCI chain (manifests leave them out), so they are skipped:
// the chain IDs in the store then match those computed from a manifest.
func topChain(layers []cache.Layer) digest.Digest {
	for i := len(layers) - 1; i >= 0; i-- {
		if !layers[i].Empty {
			return layers[i].ChainID
		}
	}
	return ""
}

func (st *state) lowerDirs(layers []cache.Layer) []string {
	var dirs []string
	for _, l := range layers {
		if !l.Empty {
			dirs = append(dirs, st.store.LayerDir(l.ChainID))
		}
	}
	return dirs
}

func (st *state) loadLayers(ids []digest.Digest) ([]cache.Layer, error) {
	layers := make([]cache.Layer, len(ids))
	for i, id := range ids {
		l, ok, err := st.store.Layer(id)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("layer %s: %w", id, os.ErrNotExist)
		}
		layers[i] = l
	}
	return layers, nil
}

// logWriter turns a step's output into Log events and keeps its tail for
// the error message.
type logWriter struct {
	sink Sink
	v    *llb.Vertex
	mu   sync.Mutex
	buf  []byte
}

const tailSize = 4096

func newLogWriter(sink Sink, v *llb.Vertex) *logWriter { return &logWriter{sink: sink, v: v} }

func (l *logWriter) stream(n int) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		l.mu.Lock()
		l.buf = append(l.buf, p...)
		if len(l.buf) > 2*tailSize {
			l.buf = append(l.buf[:0], l.buf[len(l.buf)-tailSize:]...)
		}
		l.mu.Unlock()
		l.sink(Event{Vertex: l.v.Digest(), Name: l.v.Meta.Name, Kind: Log, Time: time.Now(), Stream: n, Data: append([]byte(nil), p...)})
		return len(p), nil
	})
}

func (l *logWriter) tail() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf
	if len(b) > tailSize {
		b = b[len(b)-tailSize:]
	}
	return append([]byte(nil), b...)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
