package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
)

// Cache mounts travel with an exported build cache (--cache-to mounts=true)
// by name: the SHA-256 of their id, which is also their directory under
// mounts/. Only the first instance of an id goes; the extra instances that
// sharing=private makes for concurrent users (<name>-N) are copies of the
// same cache made at the same time and are left behind.

// CacheMountNames lists the cache mounts in the store by name.
func (s *Store) CacheMountNames() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(s.root, "mounts"))
	if err != nil {
		return nil, fmt.Errorf("cache mounts: %w", err)
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() && isMountName(e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

func isMountName(name string) bool {
	return digest.NewDigestFromEncoded(digest.SHA256, name).Validate() == nil
}

// ReadCacheMount calls fn with the directory of the cache mount name, held
// under a shared lock: a sharing=locked build waits until fn returns, and fn
// waits for one that holds it.
func (s *Store) ReadCacheMount(ctx context.Context, name string, fn func(dir string) error) error {
	if !isMountName(name) {
		return fmt.Errorf("cache mount %q: not a mount name", name)
	}
	f, err := s.lockMount(ctx, name, false, true)
	if err != nil {
		return fmt.Errorf("cache mount %s: %w", name, err)
	}
	defer func() {
		_ = funlock(f)
		f.Close()
	}()
	return fn(filepath.Join(s.root, "mounts", name))
}

// RestoreCacheMount fills the cache mount name by calling fill on a new
// directory and renaming it into place, but only where the store has no
// such mount or an empty one, and nobody is using it: a mount in use or
// with content is never overwritten, and it reports false.
func (s *Store) RestoreCacheMount(ctx context.Context, name string, fill func(dir string) error) (bool, error) {
	if !isMountName(name) {
		return false, fmt.Errorf("cache mount %q: not a mount name", name)
	}
	f, err := s.lockMount(ctx, name, true, false)
	if errors.Is(err, errLocked) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cache mount %s: %w", name, err)
	}
	defer func() {
		_ = funlock(f)
		f.Close()
	}()
	dir := filepath.Join(s.root, "mounts", name)
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return false, nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("cache mount %s: %w", name, err)
	}
	tmp, err := s.TempDir("mount-")
	if err != nil {
		return false, err
	}
	defer removeAll(tmp)
	d := filepath.Join(tmp, "d")
	if err := fill(d); err != nil {
		return false, fmt.Errorf("cache mount %s: %w", name, err)
	}
	// The lock is held, so an empty directory left here cannot be in use.
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("cache mount %s: %w", name, err)
	}
	if err := os.Rename(d, dir); err != nil {
		return false, fmt.Errorf("cache mount %s: %w", name, err)
	}
	return true, nil
}
