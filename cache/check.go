package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Check verifies the store (`kiln system check`) and returns one line per
// problem found, sorted; none means the store is sound:
//
//   - every blob's content hashes to its name;
//   - every image's manifest, config and layer blobs are there;
//   - every layer directory has its meta.json, naming it, and a diff/;
//     every non-empty layer's blob is there;
//   - every cache record parses and names only complete layers.
//
// It reads every blob, so it costs a read of the store. It takes no lock:
// run it while no build is writing, or expect to see their work in flight
// as nothing worse than missing entries under tmp/, which it ignores.
func (s *Store) Check() ([]string, error) {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	u, err := s.scan()
	if err != nil {
		return nil, err
	}
	for d := range u.blobs {
		if err := s.verifyBlob(d); err != nil {
			add("blob %s: %v", d, err)
		}
	}
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	for _, m := range idx.Manifests {
		s.checkImage(m, add)
	}
	for id, lu := range u.layers {
		if !lu.complete {
			add("layer %s: incomplete (no meta.json or diff/)", id)
			continue
		}
		if lu.meta.ChainID != id {
			add("layer %s: meta.json names %s", id, lu.meta.ChainID)
		}
		if _, ok := u.blobs[lu.meta.Blob.Digest]; !ok && !lu.meta.Empty {
			add("layer %s: blob %s missing", id, lu.meta.Blob.Digest)
		}
	}
	for _, r := range u.records {
		if r.bad {
			add("cache record %s: unreadable", filepath.Base(r.path))
			continue
		}
		for _, l := range r.layers {
			if lu := u.layers[l]; lu == nil || !lu.complete {
				add("cache record %s: layer %s missing or incomplete", r.key, l)
			}
		}
	}
	sort.Strings(problems)
	return problems, nil
}

func (s *Store) verifyBlob(d digest.Digest) error {
	rc, err := s.OpenBlob(d)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}

func (s *Store) checkImage(m ocispec.Descriptor, add func(string, ...any)) {
	name := refName(m)
	if name == "" {
		name = m.Digest.String()
	}
	b, err := os.ReadFile(s.BlobPath(m.Digest))
	if err != nil {
		add("image %s: manifest %s: %v", name, m.Digest, errors.Unwrap(err))
		return
	}
	var man ocispec.Manifest
	if err := json.Unmarshal(b, &man); err != nil {
		add("image %s: manifest %s: %v", name, m.Digest, err)
		return
	}
	if strings.Contains(m.MediaType, "index") || man.Config.Digest == "" {
		return // an index: its children are checked as blobs
	}
	for _, d := range append([]ocispec.Descriptor{man.Config}, man.Layers...) {
		if !s.HasBlob(d.Digest) {
			add("image %s: blob %s missing", name, d.Digest)
		}
	}
}
