package cache

import (
	"errors"
	"fmt"
)

// TryLockExclusive is LockExclusive that gives up at once, with ok false,
// if another Store is open on the root: the automatic collection after a
// build must not wait for a concurrent build to end. On failure the shared
// lock is taken back before it returns.
func (s *Store) TryLockExclusive() (unlock func() error, ok bool, err error) {
	s.exMu.Lock()
	if err := flock(s.lock, true, false); err != nil {
		// flock(2) dropped the shared lock on the way; take it back.
		rerr := flock(s.lock, false, true)
		s.exMu.Unlock()
		if errors.Is(err, errLocked) && rerr == nil {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("lock store exclusively: %w", errors.Join(err, rerr))
	}
	done := false
	return func() error {
		if done {
			return nil
		}
		done = true
		err := flock(s.lock, false, true)
		s.exMu.Unlock()
		if err != nil {
			return fmt.Errorf("unlock store: %w", err)
		}
		return nil
	}, true, nil
}
