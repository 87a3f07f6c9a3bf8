package solver

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/exporter"
	"github.com/kiln-build/kiln/llb"
)

// inline makes the one layer of an InlineOp: its files, written with a
// fixed mtime so that the same document gives the same layer anywhere.
func (st *state) inline(ctx context.Context, v *llb.Vertex, op *llb.InlineOp) (result, error) {
	fail := func(err error) (result, error) {
		st.emit(v, Failed, err)
		return result{}, &VertexError{Meta: v.Meta, Err: err}
	}
	enc, err := json.Marshal(keyInput{Version: "kiln.v1", Kind: op.Kind(), Op: op})
	if err != nil {
		return fail(fmt.Errorf("encode cache key: %w", err))
	}
	key := digest.FromBytes(enc)
	if r, ok, err := st.cached(key); err != nil {
		return fail(err)
	} else if ok {
		st.emit(v, Cached, nil)
		return r, nil
	}
	st.emit(v, Started, nil)
	diff, cleanup, err := st.sourceDir("inline")
	if err != nil {
		return fail(err)
	}
	defer cleanup()
	for _, f := range op.Files {
		if f.Name == "" || f.Name == "." || f.Name == ".." || strings.ContainsAny(f.Name, "/\x00") {
			return fail(fmt.Errorf("inline file: invalid name %q", f.Name))
		}
		p := filepath.Join(diff, f.Name)
		if err := os.WriteFile(p, []byte(f.Data), 0o600); err != nil {
			return fail(fmt.Errorf("inline file %s: %w", f.Name, err))
		}
		// WriteFile's mode is filtered by the umask; the op's is not.
		if err := os.Chmod(p, os.FileMode(f.Mode&0o7777)); err != nil {
			return fail(err)
		}
		if err := os.Chtimes(p, time.Unix(0, 0), time.Unix(0, 0)); err != nil {
			return fail(err)
		}
	}
	r, err := st.commitSource(ctx, diff, key)
	if err != nil {
		return fail(err)
	}
	st.emit(v, Done, nil)
	return r, nil
}

// sourceDir makes an empty directory for a source's files, to become its
// layer, and returns it with what removes it.
func (st *state) sourceDir(pattern string) (diff string, cleanup func(), err error) {
	dir, err := st.store.TempDir(pattern)
	if err != nil {
		return "", nil, err
	}
	diff = filepath.Join(dir, "diff")
	if err := os.Mkdir(diff, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return diff, func() { os.RemoveAll(dir) }, nil
}

// commitSource stores diff as a bottom layer and records it under key: the
// result of a source that makes files rather than running anything.
func (st *state) commitSource(ctx context.Context, diff string, key digest.Digest) (result, error) {
	blob, err := exporter.WriteLayer(ctx, st.store, diff, st.layerOptions()...)
	if err != nil {
		return result{}, err
	}
	l, err := st.store.AddLayer(diff, cache.Layer{ChainID: blob.DiffID, DiffID: blob.DiffID, Blob: blob.Blob, Empty: blob.Empty})
	if err != nil {
		return result{}, err
	}
	if err := st.store.PutCacheRecord(key, cache.Record{Layers: []digest.Digest{l.ChainID}}); err != nil {
		return result{}, err
	}
	return result{key: key, layers: []cache.Layer{l}}, nil
}
