package solver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/executor"
	"github.com/kiln-build/kiln/internal/testutil"
	"github.com/kiln-build/kiln/llb"
)

// fakeStore keeps everything in memory except temp dirs.
type fakeStore struct {
	*testutil.Blobs
	dir     string
	mu      sync.Mutex
	layers  map[digest.Digest]cache.Layer
	records map[digest.Digest]cache.Record
	sums    map[string]digest.Digest // context file → content, for ChecksumContext
}

func newFakeStore(t *testing.T) *fakeStore {
	return &fakeStore{
		Blobs:   testutil.NewBlobs(),
		dir:     t.TempDir(),
		layers:  map[digest.Digest]cache.Layer{},
		records: map[digest.Digest]cache.Record{},
		sums:    map[string]digest.Digest{},
	}
}

func (s *fakeStore) TempDir(pattern string) (string, error) { return os.MkdirTemp(s.dir, pattern) }
func (s *fakeStore) LayerDir(id digest.Digest) string       { return filepath.Join(s.dir, id.Encoded()) }

func (s *fakeStore) Layer(id digest.Digest) (cache.Layer, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.layers[id]
	return l, ok, nil
}

func (s *fakeStore) AddLayer(dir string, l cache.Layer) (cache.Layer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.layers[l.ChainID]; ok {
		return old, nil
	}
	l.Created = time.Now()
	s.layers[l.ChainID] = l
	return l, nil
}

func (s *fakeStore) CacheRecord(key digest.Digest) (cache.Record, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[key]
	return r, ok, nil
}

func (s *fakeStore) PutCacheRecord(key digest.Digest, r cache.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[key] = r
	return nil
}

func (s *fakeStore) ChecksumContext(ctx context.Context, dir string, srcs, excludes []string) (digest.Digest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, src := range srcs {
		sum, ok := s.sums[src]
		if !ok {
			return "", errors.New(`"` + src + `" not found in build context`)
		}
		b.WriteString(src + "=" + sum.String() + ";")
	}
	return digest.FromString(b.String()), nil
}

// fakeExecutor records what ran and lets a test hook each run.
type fakeExecutor struct {
	runs    atomic.Int32
	copies  atomic.Int32
	onRun   func(ctx context.Context, s executor.Spec) error
	running atomic.Int32
	maxRun  atomic.Int32
}

func (e *fakeExecutor) Run(ctx context.Context, s executor.Spec) error {
	e.runs.Add(1)
	n := e.running.Add(1)
	defer e.running.Add(-1)
	for {
		m := e.maxRun.Load()
		if n <= m || e.maxRun.CompareAndSwap(m, n) {
			break
		}
	}
	if e.onRun != nil {
		return e.onRun(ctx, s)
	}
	return nil
}

func (e *fakeExecutor) Copy(ctx context.Context, c executor.CopySpec) error {
	e.copies.Add(1)
	return nil
}

func run(args string, meta string, in *llb.Vertex) *llb.Vertex {
	return llb.NewVertex(&llb.ExecOp{Args: strings.Fields(args), Cwd: "/"}, llb.Meta{Name: meta, File: "Dockerfile", Line: 1, Text: "RUN " + args}, in)
}

// events collects progress events.
type events struct {
	mu   sync.Mutex
	list []Event
}

func (e *events) sink(ev Event) {
	e.mu.Lock()
	e.list = append(e.list, ev)
	e.mu.Unlock()
}

func (e *events) count(kind EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.list {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

func TestSolveDeduplicatesAndCaches(t *testing.T) {
	store, exec := newFakeStore(t), &fakeExecutor{}
	// The same step reached twice (as two stages that RUN the same thing
	// would be) runs once.
	a := run("make", "[a 2/2] RUN make", nil)
	b := run("make", "[b 2/2] RUN make", nil)
	top := llb.NewVertex(&llb.CopyOp{Src: []string{"/out"}, Dest: "/out"}, llb.Meta{Name: "COPY"}, a, b)
	var ev events
	layers, err := New(store, exec).Solve(context.Background(), top, Options{Sink: ev.sink})
	if err != nil {
		t.Fatal(err)
	}
	if got := exec.runs.Load(); got != 1 {
		t.Errorf("got %d runs, want 1", got)
	}
	if got := len(layers); got != 2 {
		t.Errorf("got %d layers, want 2", got)
	}

	var ev2 events
	layers2, err := New(store, exec).Solve(context.Background(), top, Options{Sink: ev2.sink})
	if err != nil {
		t.Fatal(err)
	}
	if got := exec.runs.Load() + exec.copies.Load(); got != 2 {
		t.Errorf("second solve: got %d executions in total, want the first solve's 2", got)
	}
	if got, want := ev2.count(Cached), 2; got != want {
		t.Errorf("second solve: got %d cached events, want %d", got, want)
	}
	if ev2.count(Started) != 0 {
		t.Errorf("second solve: got %d started events, want 0", ev2.count(Started))
	}
	if layers2[1].ChainID != layers[1].ChainID {
		t.Errorf("second solve: got top layer %s, want %s", layers2[1].ChainID, layers[1].ChainID)
	}

	if _, err := New(store, exec).Solve(context.Background(), top, Options{NoCache: true}); err != nil {
		t.Fatal(err)
	}
	if got := exec.runs.Load(); got != 2 {
		t.Errorf("--no-cache solve: got %d runs in total, want 2", got)
	}
}

func TestSolveRunsIndependentStepsConcurrently(t *testing.T) {
	store := newFakeStore(t)
	all := make(chan struct{})
	var once sync.Once
	exec := &fakeExecutor{}
	exec.onRun = func(ctx context.Context, s executor.Spec) error {
		if exec.running.Load() == 3 {
			once.Do(func() { close(all) })
		}
		select {
		case <-all:
			return nil
		case <-time.After(5 * time.Second):
			return errors.New("the other steps never started alongside this one")
		}
	}
	a, b, c := run("a", "a", nil), run("b", "b", nil), run("c", "c", nil)
	top := llb.NewVertex(&llb.CopyOp{Src: []string{"/"}, Dest: "/a"}, llb.Meta{}, a,
		llb.NewVertex(&llb.CopyOp{Src: []string{"/"}, Dest: "/b"}, llb.Meta{}, b, c))
	if _, err := New(store, exec).Solve(context.Background(), top, Options{}); err != nil {
		t.Fatal(err)
	}
	if got := exec.maxRun.Load(); got != 3 {
		t.Fatalf("got at most %d steps running at once, want 3", got)
	}
}

func TestSolveCancelsOnFirstFailure(t *testing.T) {
	store := newFakeStore(t)
	exec := &fakeExecutor{}
	boom := &executor.ExitError{Code: 2}
	exec.onRun = func(ctx context.Context, s executor.Spec) error {
		if s.Args[0] == "fail" {
			return boom
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Second):
			return nil
		}
	}
	slow := run("sleep", "slow", nil)
	bad := run("fail", "bad", nil)
	top := llb.NewVertex(&llb.CopyOp{Src: []string{"/"}, Dest: "/"}, llb.Meta{}, slow, bad)
	start := time.Now()
	_, err := New(store, exec).Solve(context.Background(), top, Options{})
	if time.Since(start) > 5*time.Second {
		t.Errorf("the slow step was not cancelled")
	}
	var ve *VertexError
	if !errors.As(err, &ve) || !errors.Is(err, boom) {
		t.Fatalf("got error %v, want the failing step's exit error", err)
	}
	if ve.Meta.Name != "bad" {
		t.Errorf("got failure of %q, want %q", ve.Meta.Name, "bad")
	}
}

func TestCopyKeyFollowsContextContent(t *testing.T) {
	store, exec := newFakeStore(t), &fakeExecutor{}
	local := llb.NewVertex(&llb.LocalOp{Name: "context"}, llb.Meta{})
	cp := llb.NewVertex(&llb.CopyOp{Src: []string{"app.txt"}, Dest: "/app.txt"}, llb.Meta{Name: "COPY"}, nil, local)
	top := run("cat /app.txt", "RUN", cp)
	store.sums["app.txt"] = digest.FromString("one")
	solve := func() {
		t.Helper()
		if _, err := New(store, exec).Solve(context.Background(), top, Options{ContextDir: "ctx"}); err != nil {
			t.Fatal(err)
		}
	}
	solve()
	solve()
	if got := exec.copies.Load() + exec.runs.Load(); got != 2 {
		t.Fatalf("unchanged context: got %d executions, want 2", got)
	}
	store.sums["app.txt"] = digest.FromString("two")
	solve()
	if got := exec.copies.Load() + exec.runs.Load(); got != 4 {
		t.Fatalf("changed file: got %d executions, want 4 (COPY and the RUN after it)", got)
	}
	delete(store.sums, "app.txt")
	_, err := New(store, exec).Solve(context.Background(), top, Options{ContextDir: "ctx"})
	if err == nil || !strings.Contains(err.Error(), `"app.txt" not found`) {
		t.Fatalf("got error %v, want one naming app.txt", err)
	}
}
