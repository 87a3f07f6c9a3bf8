package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	digest "github.com/opencontainers/go-digest"
)

// Sharing modes of a cache mount, as BuildKit's RUN --mount=type=cache.
const (
	// SharingShared lets every user write the directory at once.
	SharingShared = "shared"
	// SharingLocked gives the directory to one user at a time; others wait.
	SharingLocked = "locked"
	// SharingPrivate gives each concurrent user a directory of its own: a
	// busy one makes the next user take (or create) another instance.
	SharingPrivate = "private"
)

// lockPoll is how often a waiting CacheMount retries its lock; flock(2)
// cannot be interrupted by a context.
const lockPoll = 20 * time.Millisecond

// CacheMount returns the persistent directory of the cache mount id, locked
// as sharing asks, and the function that releases it. The directory lives
// under mounts/ named by the SHA-256 of id: the id is user input and never
// becomes a path (an id of "../../x" names a directory like any other,
// unlike Buildah's CVE-2024-9675).
//
// A directory is created on first use: init fills it (mode, owner, seed
// content) in a temp dir, and it is renamed into place whole. The lock is a
// flock on a file beside it, so builds in other processes sharing the store
// take part; a shared user holds it shared, a locked or private user
// exclusively. Waiting ends when ctx does.
func (s *Store) CacheMount(ctx context.Context, id, sharing string, init func(dir string) error) (dir string, release func() error, err error) {
	if id == "" {
		return "", nil, errors.New("cache mount: empty id")
	}
	name := digest.FromString(id).Encoded()
	switch sharing {
	case "", SharingShared, SharingLocked:
		f, err := s.lockMount(ctx, name, sharing == SharingLocked, true)
		if err != nil {
			return "", nil, fmt.Errorf("cache mount %s: %w", id, err)
		}
		return s.openMount(f, name, id, init)
	case SharingPrivate:
		for n := 0; ; n++ {
			inst := name
			if n > 0 {
				inst += "-" + strconv.Itoa(n)
			}
			f, err := s.lockMount(ctx, inst, true, false)
			if errors.Is(err, errLocked) {
				continue
			}
			if err != nil {
				return "", nil, fmt.Errorf("cache mount %s: %w", id, err)
			}
			return s.openMount(f, inst, id, init)
		}
	}
	return "", nil, fmt.Errorf("cache mount %s: unknown sharing mode %q", id, sharing)
}

// lockMount locks mounts/<name>.lock; with wait it retries until ctx ends,
// without it a held lock is errLocked.
func (s *Store) lockMount(ctx context.Context, name string, exclusive, wait bool) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(s.root, "mounts", name+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := flock(f, exclusive, false)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, errLocked) || !wait {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, context.Cause(ctx)
		case <-time.After(lockPoll):
		}
	}
}

// openMount makes sure mounts/<name> exists, under the lock f.
func (s *Store) openMount(f *os.File, name, id string, init func(string) error) (string, func() error, error) {
	release := func() error {
		err := funlock(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	dir := filepath.Join(s.root, "mounts", name)
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		err = s.createMount(dir, init)
		if err != nil {
			release()
			return "", nil, fmt.Errorf("cache mount %s: %w", id, err)
		}
	} else if err != nil {
		release()
		return "", nil, fmt.Errorf("cache mount %s: %w", id, err)
	}
	return dir, release, nil
}

func (s *Store) createMount(dir string, init func(string) error) error {
	tmp, err := s.TempDir("mount-")
	if err != nil {
		return err
	}
	defer removeAll(tmp)
	d := filepath.Join(tmp, "d")
	if err := os.Mkdir(d, 0o755); err != nil {
		return err
	}
	if init != nil {
		if err := init(d); err != nil {
			return err
		}
	}
	err = os.Rename(d, dir)
	if errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY) {
		return nil // a shared user in another process made it first
	}
	return err
}
