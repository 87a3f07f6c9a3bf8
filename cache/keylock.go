package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	digest "github.com/opencontainers/go-digest"
)

// keyLockPoll is how often LockKey retries a held lock. flock(2) cannot be
// interrupted by a context, so it polls instead of blocking.
const keyLockPoll = 20 * time.Millisecond

// LockKey takes an exclusive lock on the cache key key, shared by every
// Store on the root, in any process: the solver holds it while it runs the
// step with that key, so that two builds needing the same step run it once
// (the second waits, then finds the first's record). The lock files, under
// locks/, are removed by Prune, which runs when no Store is open.
func (s *Store) LockKey(ctx context.Context, key digest.Digest) (unlock func(), err error) {
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("lock cache key %q: %w", key, err)
	}
	dir := filepath.Join(s.root, "locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock cache key %s: %w", key, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, key.Encoded()+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock cache key %s: %w", key, err)
	}
	for {
		err := flock(f, true, false)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, errLocked) {
			f.Close()
			return nil, fmt.Errorf("lock cache key %s: %w", key, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, context.Cause(ctx)
		case <-time.After(keyLockPoll):
		}
	}
}
