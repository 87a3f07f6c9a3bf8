package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Layer describes one extracted layer in the store. Its identity is its
// chain ID, so a layer shared by several images (or built twice) is stored
// once, under layers/<chain-id hex>/.
type Layer struct {
	ChainID digest.Digest      `json:"chainID"`
	DiffID  digest.Digest      `json:"diffID"` // digest of the uncompressed tar
	Blob    ocispec.Descriptor `json:"blob"`   // the compressed tar in oci/blobs
	// Empty is set for a layer with no entries (a RUN that changed nothing);
	// manifests leave it out and mark its history entry empty_layer.
	Empty bool `json:"empty,omitempty"`
	// Created is when the layer was first committed. History timestamps come
	// from here, so a rebuild from cache reproduces the image digest.
	Created time.Time `json:"created"`
}

// Record is the result of a build step, stored under its cache key: the
// layer chain of the filesystem it produced.
type Record struct {
	Layers []digest.Digest `json:"layers"` // chain IDs, bottom first
}

// ChainID returns the OCI chain ID of a layer with the given diff ID over a
// parent chain ("" for the bottom layer).
func ChainID(parent, diffID digest.Digest) digest.Digest {
	if parent == "" {
		return diffID
	}
	return digest.FromString(parent.String() + " " + diffID.String())
}

func (s *Store) layerPath(chainID digest.Digest) string {
	if chainID.Validate() != nil {
		return ""
	}
	return filepath.Join(s.root, "layers", chainID.Encoded())
}

// LayerDir returns the diff directory of the layer chainID (an overlay
// lowerdir), or "" if chainID is not a valid digest. It may not exist.
func (s *Store) LayerDir(chainID digest.Digest) string {
	p := s.layerPath(chainID)
	if p == "" {
		return ""
	}
	return filepath.Join(p, "diff")
}

// Layer returns the metadata of the layer chainID; ok is false if it is not
// in the store.
func (s *Store) Layer(chainID digest.Digest) (Layer, bool, error) {
	p := s.layerPath(chainID)
	if p == "" {
		return Layer{}, false, fmt.Errorf("layer %q: %w", chainID, chainID.Validate())
	}
	b, err := os.ReadFile(filepath.Join(p, "meta.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return Layer{}, false, nil
	}
	if err != nil {
		return Layer{}, false, fmt.Errorf("layer %s: %w", chainID, err)
	}
	if fi, err := os.Lstat(filepath.Join(p, "diff")); err != nil || !fi.IsDir() {
		return Layer{}, false, nil
	}
	var l Layer
	if err := json.Unmarshal(b, &l); err != nil {
		return Layer{}, false, fmt.Errorf("layer %s: meta.json: %w", chainID, err)
	}
	return l, true, nil
}

// AddLayer moves dir, a directory from TempDir (an overlay upper dir, an
// extracted tar), into the store as the diff of layer l, and returns l with
// Created set to now if it was zero. If the layer is already there (another
// build committed it first) dir is removed and the stored layer is returned,
// its Created unchanged, so a rebuild reproduces the same history.
//
// The layer directory is assembled in the session dir and renamed into
// layers/ in one step, so it appears complete or not at all; of two racing
// callers, in one process or two, one rename wins and the other sees
// EEXIST/ENOTEMPTY.
func (s *Store) AddLayer(dir string, l Layer) (Layer, error) {
	dst := s.layerPath(l.ChainID)
	if dst == "" {
		return Layer{}, fmt.Errorf("add layer %q: %w", l.ChainID, l.ChainID.Validate())
	}
	if have, ok, err := s.Layer(l.ChainID); err != nil {
		return Layer{}, err
	} else if ok {
		if err := removeAll(dir); err != nil {
			return Layer{}, fmt.Errorf("add layer %s: %w", l.ChainID, err)
		}
		return have, nil
	}
	if l.Created.IsZero() {
		l.Created = time.Now().UTC()
	}
	asm, err := s.TempDir("layer-")
	if err != nil {
		return Layer{}, fmt.Errorf("add layer %s: %w", l.ChainID, err)
	}
	if err := s.assembleLayer(asm, dir, l); err != nil {
		removeAll(asm)
		return Layer{}, fmt.Errorf("add layer %s: %w", l.ChainID, err)
	}
	err = os.Rename(asm, dst)
	if errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY) {
		if rerr := removeAll(asm); rerr != nil {
			return Layer{}, fmt.Errorf("add layer %s: %w", l.ChainID, rerr)
		}
		have, ok, err := s.Layer(l.ChainID)
		if err != nil {
			return Layer{}, err
		}
		if !ok {
			return Layer{}, fmt.Errorf("add layer %s: exists but is incomplete", l.ChainID)
		}
		return have, nil
	}
	if err != nil {
		removeAll(asm)
		return Layer{}, fmt.Errorf("add layer %s: %w", l.ChainID, err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return Layer{}, fmt.Errorf("add layer %s: %w", l.ChainID, err)
	}
	return l, nil
}

// assembleLayer makes asm/diff (dir, moved) and asm/meta.json, and flushes
// the filesystem: a diff written by a container was never fsynced, and a
// layer that survives a crash must be whole.
func (s *Store) assembleLayer(asm, dir string, l Layer) error {
	if err := os.Rename(dir, filepath.Join(asm, "diff")); err != nil {
		return err
	}
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(asm, "meta.json"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = syncFS(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
