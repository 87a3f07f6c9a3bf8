package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Garbage collection.
//
// What is kept: everything an image in oci/index.json uses (its manifest,
// config and layer blobs, and the extracted layers named by the chain IDs of
// its diff_ids), and for every cache record that survives, the layers it
// names and their blobs. Everything else in oci/blobs and layers/ is garbage.
//
// Which cache records go: by default those not wholly used by an image
// (Docker's "dangling" build cache); with All or a KeepStorage limit, any,
// least recently used first (a record's mtime is its last use: CacheRecord
// touches it on every hit). Until spares records used within that long.
//
// Locking: Prune holds the root's lock exclusively, so it waits until every
// build, run and other command has closed its Store, and none opens one
// until it is done. That is coarse, but a collection of a store is seconds,
// and it makes every other path lock-free. The automatic collection after a
// build only tries the lock and skips when another Store is open.
//
// Crash safety: records are removed before the layers they name, and a
// layer directory is renamed out of layers/ before it is deleted, so a
// crash at any moment leaves no record pointing at a missing or partial
// layer (and CacheRecord treats a record with a missing layer as a miss).

// PruneOptions say what Prune removes.
type PruneOptions struct {
	// All removes every cache record, the contents of mounts/ (cache
	// mounts), the stat caches and the build histories, not only dangling
	// build cache. Images keep what they use.
	All bool
	// KeepStorage, if positive, stops removing records once the store
	// holds at most this many bytes.
	KeepStorage int64
	// Until, if positive, spares records used more recently than that.
	Until time.Duration
}

// PruneReport says what Prune removed.
type PruneReport struct {
	Records, Layers, Blobs, Mounts int
	Freed                          int64 // bytes
}

// Prune collects garbage under an exclusive lock of the root, waiting for
// other Stores to close. The caller must not use this Store concurrently.
func (s *Store) Prune(opt PruneOptions) (PruneReport, error) {
	unlock, err := s.LockExclusive()
	if err != nil {
		return PruneReport{}, err
	}
	rep, err := s.prune(opt)
	return rep, errors.Join(err, unlock())
}

// TryPrune is Prune that does nothing, with ok false, when another Store
// is open on the root.
func (s *Store) TryPrune(opt PruneOptions) (rep PruneReport, ok bool, err error) {
	unlock, ok, err := s.TryLockExclusive()
	if err != nil || !ok {
		return PruneReport{}, false, err
	}
	rep, err = s.prune(opt)
	return rep, true, errors.Join(err, unlock())
}

// usage is a scan of the store: what is there, how big, and who uses it.
type usage struct {
	images      int
	imageBlobs  map[digest.Digest]bool
	imageChains map[digest.Digest]bool
	blobs       map[digest.Digest]int64 // every blob, with its size
	layers      map[digest.Digest]*layerUse
	records     []*recordUse
	mounts      map[string]int64 // mounts/<name> → size
}

type layerUse struct {
	meta     Layer
	complete bool
	size     int64 // of diff/
	refs     int   // records and images using it
}

type recordUse struct {
	key     digest.Digest
	path    string
	layers  []digest.Digest
	lastUse time.Time
	bad     bool // unreadable
}

func (s *Store) scan() (*usage, error) {
	u := &usage{
		imageBlobs:  map[digest.Digest]bool{},
		imageChains: map[digest.Digest]bool{},
		blobs:       map[digest.Digest]int64{},
		layers:      map[digest.Digest]*layerUse{},
		mounts:      map[string]int64{},
	}
	// Blobs.
	bdir := filepath.Join(s.root, "oci", "blobs", "sha256")
	ents, err := os.ReadDir(bdir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("scan blobs: %w", err)
	}
	for _, e := range ents {
		d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if d.Validate() != nil {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			u.blobs[d] = fi.Size()
		}
	}
	// Images.
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	u.images = len(idx.Manifests)
	for _, m := range idx.Manifests {
		s.markImage(u, m, 0)
	}
	// Layers.
	ldir := filepath.Join(s.root, "layers")
	ents, err = os.ReadDir(ldir)
	if err != nil {
		return nil, fmt.Errorf("scan layers: %w", err)
	}
	for _, e := range ents {
		id := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if id.Validate() != nil {
			continue
		}
		lu := &layerUse{}
		l, ok, err := s.Layer(id)
		if err == nil && ok {
			lu.meta, lu.complete = l, true
		}
		lu.size = dirSize(filepath.Join(ldir, e.Name()))
		u.layers[id] = lu
	}
	for c := range u.imageChains {
		if lu := u.layers[c]; lu != nil {
			lu.refs++
		}
	}
	// Records.
	rdir := filepath.Join(s.root, "cache")
	ents, err = os.ReadDir(rdir)
	if err != nil {
		return nil, fmt.Errorf("scan cache records: %w", err)
	}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		ru := &recordUse{key: digest.NewDigestFromEncoded(digest.SHA256, name), path: filepath.Join(rdir, e.Name())}
		if fi, err := e.Info(); err == nil {
			ru.lastUse = fi.ModTime()
		}
		var r Record
		b, err := os.ReadFile(ru.path)
		if err != nil || json.Unmarshal(b, &r) != nil || ru.key.Validate() != nil {
			ru.bad = true
		}
		ru.layers = r.Layers
		for _, l := range r.Layers {
			if lu := u.layers[l]; lu != nil {
				lu.refs++
			}
		}
		u.records = append(u.records, ru)
	}
	// Cache mounts.
	mdir := filepath.Join(s.root, "mounts")
	ents, _ = os.ReadDir(mdir)
	for _, e := range ents {
		if e.IsDir() { // not the mounts/<name>.lock files beside them
			u.mounts[e.Name()] = dirSize(filepath.Join(mdir, e.Name()))
		}
	}
	return u, nil
}

// markImage marks what the manifest or index d uses. depth bounds nested
// indexes.
func (s *Store) markImage(u *usage, d ocispec.Descriptor, depth int) {
	if depth > 8 || d.Digest.Validate() != nil {
		return
	}
	u.imageBlobs[d.Digest] = true
	b, err := os.ReadFile(s.BlobPath(d.Digest))
	if err != nil {
		return
	}
	var m struct {
		MediaType string               `json:"mediaType"`
		Config    ocispec.Descriptor   `json:"config"`
		Layers    []ocispec.Descriptor `json:"layers"`
		Manifests []ocispec.Descriptor `json:"manifests"`
	}
	if json.Unmarshal(b, &m) != nil {
		return
	}
	for _, c := range m.Manifests {
		s.markImage(u, c, depth+1)
	}
	if m.Config.Digest == "" {
		return
	}
	u.imageBlobs[m.Config.Digest] = true
	for _, l := range m.Layers {
		u.imageBlobs[l.Digest] = true
	}
	cb, err := os.ReadFile(s.BlobPath(m.Config.Digest))
	if err != nil {
		return
	}
	var img ocispec.Image
	if json.Unmarshal(cb, &img) != nil {
		return
	}
	var chain digest.Digest
	for _, diff := range img.RootFS.DiffIDs {
		chain = ChainID(chain, diff)
		u.imageChains[chain] = true
	}
}

// dangling reports whether r holds layers no image uses.
func (u *usage) dangling(r *recordUse) bool {
	for _, l := range r.layers {
		if !u.imageChains[l] {
			lu := u.layers[l]
			if lu == nil || !lu.meta.Empty {
				return true
			}
		}
	}
	return r.bad
}

// keptBlobs returns the blobs in use: the images', and those of layers
// still referenced.
func (u *usage) keptBlobs() map[digest.Digest]bool {
	keep := map[digest.Digest]bool{}
	for d := range u.imageBlobs {
		keep[d] = true
	}
	for _, lu := range u.layers {
		if lu.refs > 0 && lu.complete {
			keep[lu.meta.Blob.Digest] = true
		}
	}
	return keep
}

// total is the store's size as Prune counts it.
func (u *usage) total() int64 {
	var n int64
	for _, sz := range u.blobs {
		n += sz
	}
	for _, lu := range u.layers {
		n += lu.size
	}
	for _, sz := range u.mounts {
		n += sz
	}
	return n
}

func (s *Store) prune(opt PruneOptions) (PruneReport, error) {
	var rep PruneReport
	u, err := s.scan()
	if err != nil {
		return rep, err
	}
	total := u.total()
	if opt.All {
		for name, sz := range u.mounts {
			if err := removeAll(filepath.Join(s.root, "mounts", name)); err != nil {
				return rep, fmt.Errorf("prune cache mount %s: %w", name, err)
			}
			rep.Mounts++
			rep.Freed += sz
			total -= sz
		}
		// Their lock files: no Store is open, so none is held.
		locks, _ := filepath.Glob(filepath.Join(s.root, "mounts", "*.lock"))
		for _, l := range locks {
			_ = os.Remove(l)
		}
		for _, d := range []string{"contexts", "history"} {
			ents, _ := os.ReadDir(filepath.Join(s.root, d))
			for _, e := range ents {
				_ = removeAll(filepath.Join(s.root, d, e.Name()))
			}
		}
	}
	// Key locks are only held by open Stores, and none is.
	_ = removeAll(filepath.Join(s.root, "locks"))

	// Records: the candidates, least recently used (and dangling) first.
	var cands []*recordUse
	cutoff := time.Now().Add(-opt.Until)
	for _, r := range u.records {
		if !opt.All && opt.KeepStorage <= 0 && !u.dangling(r) {
			continue
		}
		if opt.Until > 0 && r.lastUse.After(cutoff) && !r.bad {
			continue
		}
		cands = append(cands, r)
	}
	sort.SliceStable(cands, func(i, j int) bool {
		di, dj := u.dangling(cands[i]), u.dangling(cands[j])
		if di != dj {
			return di
		}
		return cands[i].lastUse.Before(cands[j].lastUse)
	})
	blobRefs := map[digest.Digest]int{}
	for _, lu := range u.layers {
		if lu.refs > 0 && lu.complete {
			blobRefs[lu.meta.Blob.Digest]++
		}
	}
	// What nothing uses goes anyway: count it gone before choosing records.
	for _, lu := range u.layers {
		if lu.refs == 0 {
			total -= lu.size
		}
	}
	for d, sz := range u.blobs {
		if blobRefs[d] == 0 && !u.imageBlobs[d] {
			total -= sz
		}
	}
	for _, r := range cands {
		if opt.KeepStorage > 0 && total <= opt.KeepStorage {
			break
		}
		if err := os.Remove(r.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return rep, fmt.Errorf("prune cache record %s: %w", r.key, err)
		}
		rep.Records++
		for _, l := range r.layers {
			lu := u.layers[l]
			if lu == nil {
				continue
			}
			if lu.refs--; lu.refs == 0 {
				total -= lu.size
				if lu.complete {
					b := lu.meta.Blob.Digest
					if blobRefs[b]--; blobRefs[b] == 0 && !u.imageBlobs[b] {
						total -= u.blobs[b]
					}
				}
			}
		}
	}
	if err := syncDir(filepath.Join(s.root, "cache")); err != nil {
		return rep, fmt.Errorf("prune: %w", err)
	}
	// Layers no image or record uses, then blobs no one uses.
	for id, lu := range u.layers {
		if lu.refs > 0 {
			continue
		}
		if err := s.removeLayer(id); err != nil {
			return rep, err
		}
		rep.Layers++
		rep.Freed += lu.size
	}
	keep := u.keptBlobs()
	for d, sz := range u.blobs {
		if keep[d] {
			continue
		}
		if err := os.Remove(s.BlobPath(d)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return rep, fmt.Errorf("prune blob %s: %w", d, err)
		}
		rep.Blobs++
		rep.Freed += sz
	}
	return rep, nil
}

// removeLayer renames the layer out of layers/ first, so that it is never
// seen half-deleted.
func (s *Store) removeLayer(id digest.Digest) error {
	tmp, err := s.TempDir("gc-")
	if err != nil {
		return err
	}
	if err := os.Rename(s.layerPath(id), filepath.Join(tmp, "layer")); err != nil {
		return fmt.Errorf("prune layer %s: %w", id, err)
	}
	if err := removeAll(tmp); err != nil {
		return fmt.Errorf("prune layer %s: %w", id, err)
	}
	return nil
}

// dirSize is the apparent size of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// touch records a use of the file at p (its mtime), for least recently
// used collection. Best effort: a failure only makes it look older.
func touch(p string) {
	now := time.Now()
	_ = os.Chtimes(p, now, now)
}
