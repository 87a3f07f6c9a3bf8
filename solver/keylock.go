package solver

import (
	"context"

	digest "github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/cache"
)

// KeyLocker is the optional part of a Store that serialises builds, in any
// process, on one cache key (*cache.Store).
type KeyLocker interface {
	LockKey(ctx context.Context, key digest.Digest) (unlock func(), err error)
}

var _ KeyLocker = (*cache.Store)(nil)

// lookup finds key in the cache. On a miss it returns holding the key's
// lock (release it with unlock once the record is written or the step has
// failed): another build running the same step is waited for, and its
// record then found, so identical steps of concurrent builds run once.
func (st *state) lookup(ctx context.Context, key digest.Digest) (r result, ok bool, unlock func(), err error) {
	unlock = func() {}
	if r, ok, err = st.cached(key); err != nil || ok {
		return r, ok, unlock, err
	}
	kl, isLocker := st.store.(KeyLocker)
	if !isLocker {
		return result{}, false, unlock, nil
	}
	if unlock, err = kl.LockKey(ctx, key); err != nil {
		return result{}, false, func() {}, err
	}
	if r, ok, err = st.cached(key); err != nil || ok {
		unlock()
		return r, ok, func() {}, err
	}
	return result{}, false, unlock, nil
}
