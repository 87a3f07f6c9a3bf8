package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	digest "github.com/opencontainers/go-digest"
)

// fileStat is what must be unchanged for a cached content digest to be
// trusted: git's racy-clean test, less the uid/gid.
type fileStat struct {
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime"` // ns
	Ctime int64  `json:"ctime"` // ns
	Mode  uint32 `json:"mode"`
}

type statEntry struct {
	fileStat
	Digest digest.Digest `json:"digest"`
}

// racyWindow is how recent a file's mtime or ctime may be before its digest
// is not cached. Timestamps come from a coarse clock (a jiffy, up to 10ms),
// so a file rewritten with the same size within one tick of being hashed
// keeps its stat; caching it would keep the old digest forever. Files on
// filesystems with whole-second timestamps get coarseRacyWindow.
var (
	racyWindow       = 100 * time.Millisecond
	coarseRacyWindow = 2 * time.Second
)

// cacheable reports whether st may be cached, given the time its content
// was read.
func (st fileStat) cacheable(now time.Time) bool {
	t := max(st.Mtime, st.Ctime)
	w := racyWindow
	if st.Mtime%1e9 == 0 && st.Ctime%1e9 == 0 {
		w = coarseRacyWindow
	}
	return now.UnixNano()-t > w.Nanoseconds()
}

// statCache maps a context's relative paths to content digests. Entries of
// deleted files stay until the file in contexts/ is removed (GC may drop
// these wholesale: they are only a cache).
type statCache struct {
	path string // contexts/<sha256 of the dir>.json

	mu      sync.Mutex
	entries map[string]statEntry
	dirty   bool

	saveMu sync.Mutex // saves in order, so an older snapshot never wins
}

// statCache returns the stat cache of the context dir (absolute), loading it
// from the store on first use. A missing or unreadable file starts empty.
func (s *Store) statCache(dir string) *statCache {
	s.ctxMu.Lock()
	defer s.ctxMu.Unlock()
	if c, ok := s.contexts[dir]; ok {
		return c
	}
	sum := sha256.Sum256([]byte(dir))
	c := &statCache{
		path:    filepath.Join(s.root, "contexts", hex.EncodeToString(sum[:])+".json"),
		entries: map[string]statEntry{},
	}
	if b, err := os.ReadFile(c.path); err == nil {
		var m map[string]statEntry
		if json.Unmarshal(b, &m) == nil && m != nil {
			c.entries = m
		}
	}
	s.contexts[dir] = c
	return c
}

func (c *statCache) lookup(rel string, st fileStat) (digest.Digest, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[rel]
	if !ok || e.fileStat != st {
		return "", false
	}
	return e.Digest, true
}

func (c *statCache) put(rel string, st fileStat, d digest.Digest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[rel] = statEntry{fileStat: st, Digest: d}
	c.dirty = true
}

// save writes the cache if it changed, without fsync: a cache lost in a
// crash only costs re-hashing. Another process may write the same
// file; the atomic rename makes the last writer win, which costs the loser
// some re-hashing later, never a wrong digest.
func (c *statCache) save(s *Store) error {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	c.mu.Lock()
	if !c.dirty {
		c.mu.Unlock()
		return nil
	}
	b, err := json.Marshal(c.entries)
	c.dirty = false
	c.mu.Unlock()
	if err == nil {
		err = s.writeFile(c.path, b, 0o600, false)
	}
	if err != nil {
		c.mu.Lock()
		c.dirty = true
		c.mu.Unlock()
		return fmt.Errorf("save stat cache: %w", err)
	}
	return nil
}
