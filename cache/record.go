package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
)

func (s *Store) recordPath(key digest.Digest) (string, error) {
	if err := key.Validate(); err != nil {
		return "", fmt.Errorf("cache key %q: %w", key, err)
	}
	return filepath.Join(s.root, "cache", key.Encoded()+".json"), nil
}

// CacheRecord returns the record stored under key. ok is false if there is
// none, or if any layer it names has left the store (garbage collection):
// a hit must be usable.
func (s *Store) CacheRecord(key digest.Digest) (Record, bool, error) {
	p, err := s.recordPath(key)
	if err != nil {
		return Record{}, false, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("cache record %s: %w", key, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return Record{}, false, fmt.Errorf("cache record %s: %w", key, err)
	}
	for _, l := range r.Layers {
		if _, ok, err := s.Layer(l); err != nil || !ok {
			return Record{}, false, err
		}
	}
	touch(p) // its last use, for garbage collection
	return r, true, nil
}

// PutCacheRecord stores r under key, replacing any record there.
func (s *Store) PutCacheRecord(key digest.Digest, r Record) error {
	p, err := s.recordPath(key)
	if err != nil {
		return err
	}
	for _, l := range r.Layers {
		if err := l.Validate(); err != nil {
			return fmt.Errorf("put cache record %s: layer %q: %w", key, l, err)
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("put cache record %s: %w", key, err)
	}
	if err := s.writeFileAtomic(p, b, 0o644); err != nil {
		return fmt.Errorf("put cache record %s: %w", key, err)
	}
	return nil
}
