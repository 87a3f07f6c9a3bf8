package solver

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/exporter"
)

// Build cache export and import (--cache-to, --cache-from type=local).
//
// The export is an OCI image layout: index.json names one blob of media
// type MediaTypeCacheManifest, which lists cache records, and the layer
// blobs those records use sit beside it in blobs/sha256/. Each record
// carries the canonical key input its key is the digest of (the op, the
// parent's key, the selected files' checksum), so an importer never trusts
// a key by name alone: it recomputes the digest, checks that the record's
// layers extend its parent's, recomputes every chain ID from the diff IDs,
// and verifies every blob digest and diff ID while extracting. A record can
// then only be hit by a step whose locally computed key is the same, that
// is, the same instruction over the same parent with the same files.

// MediaTypeCacheManifest is the media type of the blob listing the records.
const MediaTypeCacheManifest = "application/vnd.kiln.cache.manifest.v1+json"

type cacheManifest struct {
	MediaType string       `json:"mediaType"`
	Records   []cacheEntry `json:"records"`
}

type cacheEntry struct {
	Key    digest.Digest   `json:"key"`
	Input  json.RawMessage `json:"input"` // Key is its sha256
	Layers []cache.Layer   `json:"layers"`
}

// ExportCache writes the records of steps to the OCI layout dir. With min
// only those on the final image's chain (layers, bottom first) go; else
// every step of the build.
func ExportCache(ctx context.Context, store Store, dir string, steps []KeyedStep, final []cache.Layer, min bool) (int, error) {
	finalDiffs := map[digest.Digest]bool{}
	for _, l := range final {
		finalDiffs[l.DiffID] = true
	}
	onFinal := func(ids []digest.Digest) bool {
		if len(ids) == 1 && final != nil {
			// A COPY --link layer is a bottom layer wherever it lands.
			if l, ok, err := store.Layer(ids[0]); err == nil && ok && finalDiffs[l.DiffID] {
				return true
			}
		}
		if len(ids) > len(final) {
			return false
		}
		for i, id := range ids {
			if final[i].ChainID != id {
				return false
			}
		}
		return true
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return 0, fmt.Errorf("export cache: %w", err)
	}
	m := cacheManifest{MediaType: MediaTypeCacheManifest, Records: []cacheEntry{}}
	seen := map[digest.Digest]bool{}
	for _, s := range steps {
		if seen[s.Key] {
			continue
		}
		seen[s.Key] = true
		rec, ok, err := store.CacheRecord(s.Key)
		if err != nil {
			return 0, fmt.Errorf("export cache: %w", err)
		}
		if !ok || (min && !onFinal(rec.Layers)) {
			continue
		}
		e := cacheEntry{Key: s.Key, Input: s.Input}
		for _, id := range rec.Layers {
			l, ok, err := store.Layer(id)
			if err != nil || !ok {
				return 0, fmt.Errorf("export cache: layer %s: %w", id, errors.Join(err, cache.ErrNotFound))
			}
			if err := exportBlob(ctx, store, dir, l.Blob.Digest); err != nil {
				return 0, err
			}
			e.Layers = append(e.Layers, l)
		}
		m.Records = append(m.Records, e)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return 0, fmt.Errorf("export cache: %w", err)
	}
	md := digest.FromBytes(b)
	if err := writeFileAtomic(filepath.Join(dir, "blobs", "sha256", md.Encoded()), b); err != nil {
		return 0, fmt.Errorf("export cache: %w", err)
	}
	idx := ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{{MediaType: MediaTypeCacheManifest, Digest: md, Size: int64(len(b))}},
	}
	ib, _ := json.MarshalIndent(idx, "", "  ")
	lb, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err := writeFileAtomic(filepath.Join(dir, ocispec.ImageLayoutFile), lb); err != nil {
		return 0, fmt.Errorf("export cache: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, "index.json"), append(ib, '\n')); err != nil {
		return 0, fmt.Errorf("export cache: %w", err)
	}
	return len(m.Records), nil
}

func exportBlob(ctx context.Context, store Store, dir string, d digest.Digest) error {
	dst := filepath.Join(dir, "blobs", d.Algorithm().String(), d.Encoded())
	if _, err := os.Lstat(dst); err == nil {
		return nil
	}
	rc, err := store.OpenBlob(d)
	if err != nil {
		return fmt.Errorf("export cache: %w", err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*")
	if err != nil {
		return fmt.Errorf("export cache: %w", err)
	}
	_, err = io.Copy(tmp, rc) // the reader verifies the digest
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("export cache: blob %s: %w", d, err)
	}
	return ctx.Err()
}

func writeFileAtomic(p string, b []byte) error {
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// ImportReport says what ImportCache took and what it refused.
type ImportReport struct {
	Records, Layers int
	Rejected        []string // why each refused record was refused
}

// ImportCache verifies and imports the records of the cache layout dir into
// the store.
func ImportCache(ctx context.Context, store Store, dir string) (ImportReport, error) {
	var rep ImportReport
	var idx ocispec.Index
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return rep, fmt.Errorf("import cache: %w", err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return rep, fmt.Errorf("import cache: index.json: %w", err)
	}
	var entries []cacheEntry
	for _, d := range idx.Manifests {
		if d.MediaType != MediaTypeCacheManifest {
			continue
		}
		mb, err := readVerified(dir, d.Digest)
		if err != nil {
			return rep, fmt.Errorf("import cache: %w", err)
		}
		var m cacheManifest
		if err := json.Unmarshal(mb, &m); err != nil {
			return rep, fmt.Errorf("import cache: manifest %s: %w", d.Digest, err)
		}
		entries = append(entries, m.Records...)
	}
	byKey := map[digest.Digest]cacheEntry{}
	for _, e := range entries {
		byKey[e.Key] = e
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if why := verifyEntry(store, e, byKey); why != "" {
			rep.Rejected = append(rep.Rejected, fmt.Sprintf("record %s: %s", e.Key, why))
			continue
		}
		if _, ok, err := store.CacheRecord(e.Key); err != nil {
			return rep, err
		} else if ok {
			continue
		}
		rec := cache.Record{}
		for _, l := range e.Layers {
			if _, ok, err := store.Layer(l.ChainID); err != nil {
				return rep, err
			} else if !ok {
				if err := importLayer(ctx, store, dir, l); err != nil {
					return rep, fmt.Errorf("import cache: %w", err)
				}
				rep.Layers++
			}
			rec.Layers = append(rec.Layers, l.ChainID)
		}
		if err := store.PutCacheRecord(e.Key, rec); err != nil {
			return rep, fmt.Errorf("import cache: %w", err)
		}
		rep.Records++
	}
	return rep, nil
}

// verifyEntry says why e cannot be trusted, or "".
func verifyEntry(store Store, e cacheEntry, byKey map[digest.Digest]cacheEntry) string {
	if e.Key.Validate() != nil || digest.FromBytes(e.Input) != e.Key {
		return "key is not the digest of its input"
	}
	var in struct {
		Inputs []digest.Digest `json:"inputs"`
		Op     struct {
			Link bool `json:"link"`
		} `json:"op"`
	}
	if err := json.Unmarshal(e.Input, &in); err != nil {
		return "unreadable key input"
	}
	if len(e.Layers) == 0 {
		return "no layers"
	}
	// Each layer's chain ID follows from the diff IDs: nothing can be
	// swapped in under a known chain ID.
	var top digest.Digest
	for _, l := range e.Layers {
		if l.ChainID != cache.ChainID(top, l.DiffID) {
			return fmt.Sprintf("layer %s: chain ID does not follow from its diff ID", l.ChainID)
		}
		if !l.Empty {
			top = l.ChainID
		}
	}
	// A step adds one layer to its parent's: the record must extend the
	// parent's result, where the parent is known. A COPY --link records
	// its own layer alone, a bottom layer (copy.go).
	if in.Op.Link && len(e.Layers) != 1 {
		return "a COPY --link record must hold one layer"
	}
	if len(in.Inputs) > 0 && in.Inputs[0] != "" && !in.Op.Link {
		var parent []digest.Digest
		if p, ok := byKey[in.Inputs[0]]; ok {
			for _, l := range p.Layers {
				parent = append(parent, l.ChainID)
			}
		} else if r, ok, err := store.CacheRecord(in.Inputs[0]); err == nil && ok {
			parent = r.Layers
		}
		if parent != nil {
			if len(parent) != len(e.Layers)-1 {
				return "does not extend its parent's layers"
			}
			for i, id := range parent {
				if e.Layers[i].ChainID != id {
					return "does not extend its parent's layers"
				}
			}
		}
	}
	return ""
}

func readVerified(dir string, d digest.Digest) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, "blobs", d.Algorithm().String(), d.Encoded()))
	if err != nil {
		return nil, err
	}
	if digest.FromBytes(b) != d {
		return nil, fmt.Errorf("blob %s: %w", d, cache.ErrDigestMismatch)
	}
	return b, nil
}

// importLayer copies the blob of l into the store, checking its digest,
// and extracts it, checking the diff ID.
func importLayer(ctx context.Context, store Store, dir string, l cache.Layer) error {
	if err := l.Blob.Digest.Validate(); err != nil {
		return fmt.Errorf("layer %s: %w", l.ChainID, err)
	}
	if !hasBlob(store, l.Blob.Digest) {
		f, err := os.Open(filepath.Join(dir, "blobs", l.Blob.Digest.Algorithm().String(), l.Blob.Digest.Encoded()))
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("layer %s: blob %s: %w", l.ChainID, l.Blob.Digest, cache.ErrNotFound)
		}
		if err != nil {
			return err
		}
		d, _, err := store.PutBlob(f)
		f.Close()
		if err != nil {
			return err
		}
		if d != l.Blob.Digest {
			return fmt.Errorf("layer %s: blob %s: %w", l.ChainID, l.Blob.Digest, cache.ErrDigestMismatch)
		}
	}
	tmp, err := store.TempDir("import")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	rc, err := store.OpenBlob(l.Blob.Digest)
	if err != nil {
		return err
	}
	defer rc.Close()
	br := bufio.NewReader(rc)
	var r io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("layer %s: %w", l.ChainID, err)
		}
		defer gz.Close()
		r = gz
	}
	dg := digest.SHA256.Digester()
	diff := filepath.Join(tmp, "diff")
	if err := exporter.ExtractLayer(ctx, io.TeeReader(r, dg.Hash()), diff); err != nil {
		return fmt.Errorf("layer %s: %w", l.ChainID, err)
	}
	// The tar reader may stop at the end-of-archive blocks; hash the rest.
	if _, err := io.Copy(dg.Hash(), r); err != nil {
		return fmt.Errorf("layer %s: %w", l.ChainID, err)
	}
	if dg.Digest() != l.DiffID {
		return fmt.Errorf("layer %s: diff ID %s, want %s: %w", l.ChainID, dg.Digest(), l.DiffID, cache.ErrDigestMismatch)
	}
	_, err = store.AddLayer(diff, l)
	return err
}

func hasBlob(store Store, d digest.Digest) bool {
	type hasser interface{ HasBlob(digest.Digest) bool }
	if h, ok := store.(hasser); ok {
		return h.HasBlob(d)
	}
	return false
}
