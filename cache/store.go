package cache

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// errLocked reports that a non-blocking flock found the lock held.
var errLocked = errors.New("locked")

// staleNewLock is how old a half-created session lock file must be before
// Open treats it as abandoned (see newSession).
const staleNewLock = time.Hour

// Store is an open kiln store. Its methods are safe for concurrent use, and
// several Stores (in one process or many) may share a root.
type Store struct {
	root string

	// lock holds a shared flock on root/lock for the Store's lifetime.
	lock *os.File
	exMu sync.Mutex // one LockExclusive at a time per Store

	// session is tmp/<id>, this Store's scratch space, made on first use
	// (sessionDir): a Store that only reads, as kiln run's image lookup,
	// never makes one. sessionLock is the exclusive flock on tmp/<id>.lock.
	sessionMu   sync.Mutex
	session     string
	sessionLock *os.File
	sessionErr  error

	ctxMu    sync.Mutex
	contexts map[string]*statCache // by absolute context dir

	configs sync.Map // manifest digest → config digest, both immutable

	hashed atomic.Int64 // files read by ChecksumContext; tests watch it

	closeOnce sync.Once
	closeErr  error
}

// Open opens the store at root, creating its layout if missing. It takes a
// shared lock on root/lock until Close (so a garbage collector holding it
// exclusively waits for every open Store, and Open waits for the collector),
// and removes (as far as it can) the session directories of Stores whose
// process died. The Store's own session directory under tmp/ is made when
// something is first written.
func Open(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", root, err)
	}
	for _, d := range []string{"", "oci/blobs/sha256", "layers", "cache", "contexts", "mounts", "containers", "tmp"} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o700); err != nil {
			return nil, fmt.Errorf("open store %s: %w", root, err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(abs, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", root, err)
	}
	if err := flock(lock, false, true); err != nil {
		lock.Close()
		return nil, fmt.Errorf("lock store %s: %w", root, err)
	}
	s := &Store{root: abs, lock: lock, contexts: map[string]*statCache{}}
	if err := s.initLayout(); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: %w", root, err)
	}
	// Best effort: a leftover that cannot be removed now must not stop every
	// build; the next Open tries again.
	_ = s.cleanSessions()
	return s, nil
}

// Root returns the absolute path of the store.
func (s *Store) Root() string { return s.root }

// Close saves the stat caches, removes the session directory and releases
// the locks. Directories from TempDir must not be used afterwards.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		s.ctxMu.Lock()
		for _, c := range s.contexts {
			errs = append(errs, c.save(s))
		}
		s.ctxMu.Unlock()
		s.sessionMu.Lock()
		if s.session != "" {
			errs = append(errs, removeAll(s.session))
			errs = append(errs, os.Remove(s.session+".lock"))
			errs = append(errs, s.sessionLock.Close())
		}
		s.sessionMu.Unlock()
		errs = append(errs, s.lock.Close())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("close store %s: %w", s.root, err)
		}
	})
	return s.closeErr
}

// LockExclusive upgrades this Store's shared lock on root/lock to an
// exclusive one, waiting until every other open Store (in any process) has
// closed; the returned function downgrades it back to shared. It is meant
// for garbage collection: while it is held, no other Store can open the
// root. It does not exclude this Store's own callers; the caller must quiesce
// them. The upgrade is not atomic (flock(2) drops the shared lock first), so
// two Stores upgrading at once take turns rather than deadlock.
func (s *Store) LockExclusive() (unlock func() error, err error) {
	s.exMu.Lock()
	if err := flock(s.lock, true, true); err != nil {
		// The shared lock may have been dropped on the way; take it back.
		err = errors.Join(err, flock(s.lock, false, true))
		s.exMu.Unlock()
		return nil, fmt.Errorf("lock store exclusively: %w", err)
	}
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			err = flock(s.lock, false, true)
			s.exMu.Unlock()
			if err != nil {
				err = fmt.Errorf("unlock store: %w", err)
			}
		})
		return err
	}, nil
}

// TempDir creates a new directory in the Store's session directory, on the
// same filesystem as layers/, so it can be renamed into the store. pattern
// is as for os.MkdirTemp.
func (s *Store) TempDir(pattern string) (string, error) {
	session, err := s.sessionDir()
	if err != nil {
		return "", fmt.Errorf("temp dir: %w", err)
	}
	d, err := os.MkdirTemp(session, pattern)
	if err != nil {
		return "", fmt.Errorf("temp dir: %w", err)
	}
	return d, nil
}

// sessionDir returns the Store's session directory, making it on first use.
func (s *Store) sessionDir() (string, error) {
	s.sessionMu.Lock()
	defer s.sessionMu.Unlock()
	if s.session == "" && s.sessionErr == nil {
		if s.sessionErr = s.newSession(); s.sessionErr != nil {
			s.sessionErr = fmt.Errorf("store %s: %w", s.root, s.sessionErr)
		}
	}
	return s.session, s.sessionErr
}

// newSession creates tmp/<id>.lock, locked, then tmp/<id>/. The lock file is
// created under another name and renamed into place already locked: a cleaner
// can never find it unlocked while its owner lives, and, since the lock file
// exists before the directory does, a session directory without a lock file
// is always garbage.
func (s *Store) newSession() error {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	id := hex.EncodeToString(b[:])
	tmp := filepath.Join(s.root, "tmp")
	newName := filepath.Join(tmp, id+".lock.new")
	f, err := os.OpenFile(newName, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("session lock: %w", err)
	}
	if err := flock(f, true, false); err != nil {
		f.Close()
		os.Remove(newName)
		return fmt.Errorf("session lock: %w", err)
	}
	session := filepath.Join(tmp, id)
	if err := os.Rename(newName, session+".lock"); err != nil {
		f.Close()
		os.Remove(newName)
		return fmt.Errorf("session lock: %w", err)
	}
	if err := os.Mkdir(session, 0o700); err != nil {
		f.Close()
		os.Remove(session + ".lock")
		return fmt.Errorf("session dir: %w", err)
	}
	s.session, s.sessionLock = session, f
	return nil
}

// cleanSessions removes the session directories under tmp/ whose lock
// nobody holds: their Store's process died without Close.
func (s *Store) cleanSessions() error {
	tmp := filepath.Join(s.root, "tmp")
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		name := e.Name()
		p := filepath.Join(tmp, name)
		if p == s.session || p == s.session+".lock" {
			continue
		}
		switch {
		case strings.HasSuffix(name, ".lock.new"):
			// Its creator is between create and flock (moments) or dead.
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleNewLock {
				errs = append(errs, ignoreNotExist(os.Remove(p)))
			}
		case strings.HasSuffix(name, ".lock"):
			errs = append(errs, cleanSession(strings.TrimSuffix(p, ".lock")))
		default:
			// Readdir may have listed a new session's directory but not its
			// lock; look again now that the directory is known to exist.
			if _, err := os.Lstat(p + ".lock"); err == nil {
				continue
			}
			if _, err := os.Lstat(p + ".lock.new"); err == nil {
				continue
			}
			errs = append(errs, removeAll(p))
		}
	}
	return errors.Join(errs...)
}

// cleanSession removes dir and dir.lock if the lock can be taken.
func cleanSession(dir string) error {
	f, err := os.OpenFile(dir+".lock", os.O_RDWR, 0)
	if err != nil {
		return ignoreNotExist(err)
	}
	defer f.Close()
	if err := flock(f, true, false); err != nil {
		if errors.Is(err, errLocked) {
			return nil // alive
		}
		return err
	}
	// Still the same file? Another cleaner may have removed it (and a new
	// session can never reuse a random name).
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	cur, err := os.Lstat(dir + ".lock")
	if err != nil || !os.SameFile(fi, cur) {
		return nil
	}
	if err := removeAll(dir); err != nil {
		return err
	}
	return ignoreNotExist(os.Remove(dir + ".lock"))
}

func ignoreNotExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// writeFileAtomic writes data to path: a temp file in the session dir,
// fsynced, renamed over path, and the directory synced, so readers see the
// old content or the new, never a mix, even after a crash.
func (s *Store) writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	return s.writeFile(path, data, perm, true)
}

// writeFile is writeFileAtomic, without the fsyncs unless durable: for
// caches, which readers treat as empty if a crash truncates them.
func (s *Store) writeFile(path string, data []byte, perm fs.FileMode, durable bool) error {
	session, err := s.sessionDir()
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(session, ".write-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if !durable {
		return nil
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// removeAll is os.RemoveAll (which never follows symlinks) that also copes
// with directories it may not read or search: overlayfs leaves its
// work/work directory at mode 000, and without CAP_DAC_OVERRIDE (rootless)
// that stops os.RemoveAll. On failure it makes every directory 0700 and
// tries again.
func removeAll(p string) error {
	err := os.RemoveAll(p)
	if err == nil {
		return nil
	}
	// WalkDir calls fn for a directory before reading it, so chmod as we
	// go opens the way down; its entry types come from lstat/readdir, so a
	// symlink is never taken for a directory and never followed.
	_ = filepath.WalkDir(p, func(path string, d fs.DirEntry, werr error) error {
		if werr != nil || !d.IsDir() {
			return nil
		}
		_ = os.Chmod(path, 0o700)
		return nil
	})
	if err := os.RemoveAll(p); err != nil {
		return fmt.Errorf("remove %s: %w", filepath.Base(p), err)
	}
	return nil
}
