package cache

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/patternmatcher"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"
)

// maxSymlinkHops bounds symlink resolution in a COPY source, like the
// kernel's ELOOP limit.
const maxSymlinkHops = 40

// ChecksumContext returns a digest over exactly the files that a Docker
// `COPY srcs... dest` from the build context dir selects, so the solver can
// key the COPY by content: two contexts with the same selected files give
// the same digest, on any machine, whatever the rest of the context holds.
//
// It follows Docker's rules. Each src is relative to the context root (a
// leading "/" or "./" is ignored) and may hold filepath.Match wildcards; a
// directory selects everything under it; a src naming a symlink is followed
// (inside the context), symlinks met inside directories are not. excludes
// are .dockerignore patterns, applied by github.com/moby/patternmatcher as
// Docker's context transfer applies them: an excluded file does not exist.
//
// Each selected entry contributes its path relative to the context root, its
// type, its permission bits with setuid/setgid/sticky, and its content digest
// or link target. Never mtimes, inode numbers, owners (Docker copies context
// files as 0:0) or absolute paths.
//
// Content digests are cached per context dir by (dev, inode, size, mtime,
// ctime, mode), in contexts/ under the store, so an unchanged file costs an
// lstat rather than a read.
//
// A src that leaves the context wraps ErrOutsideContext; one that selects
// nothing wraps ErrNotFound: `"app/" not found in build context`.
func (s *Store) ChecksumContext(ctx context.Context, dir string, srcs []string, excludes []string) (digest.Digest, error) {
	return s.checksumContext(ctx, dir, srcs, excludes, nil, false)
}

// ChecksumContextFiles is ChecksumContext that also returns what it selected:
// each entry's path (relative to the context root, "/"-separated) mapped to
// the line it contributed to the digest (type, mode, content digest or link
// target). `kiln build --explain` diffs two of these to name changed files.
//
// With ignoreMode, permission bits are left out of the digest: for a
// `COPY --chmod`, which gives every entry the same mode, so that a laptop's
// umask and a CI machine's give the same key.
func (s *Store) ChecksumContextFiles(ctx context.Context, dir string, srcs []string, excludes []string, ignoreMode bool) (digest.Digest, map[string]string, error) {
	files := map[string]string{}
	d, err := s.checksumContext(ctx, dir, srcs, excludes, files, ignoreMode)
	if err != nil {
		return "", nil, err
	}
	return d, files, nil
}

func (s *Store) checksumContext(ctx context.Context, dir string, srcs []string, excludes []string, files map[string]string, ignoreMode bool) (digest.Digest, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("build context: %w", err)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("build context: %w", err)
	}
	pm, err := patternmatcher.New(excludes)
	if err != nil {
		return "", fmt.Errorf("dockerignore: %w", err)
	}
	w := &ctxWalk{ctx: ctx, root: root, realRoot: realRoot, pm: pm, files: map[string]*fileJob{}}

	type selection struct {
		src     string
		entries []*ctxEntry
	}
	sels := make([]selection, len(srcs))
	for i, src := range srcs {
		clean, es, err := w.selectSrc(src)
		if err != nil {
			return "", err
		}
		sels[i] = selection{clean, es}
	}

	sc := s.statCache(root)
	if err := s.hashFiles(ctx, root, sc, w.jobs); err != nil {
		return "", err
	}

	h := sha256.New()
	for _, sel := range sels {
		fmt.Fprintf(h, "src %q\n", sel.src)
		for _, e := range sel.entries {
			line := fmt.Sprintf("%c %04o", typeChar(e.mode), modeBits(e.mode))
			if ignoreMode {
				line = fmt.Sprintf("%c -", typeChar(e.mode))
			}
			switch {
			case e.file != nil:
				line += " " + e.file.digest.String()
			case e.mode&fs.ModeSymlink != 0:
				line += fmt.Sprintf(" %q", e.target)
			}
			fmt.Fprintf(h, "%q %s\n", e.path, line)
			if files != nil {
				files[e.path] = line
			}
		}
	}
	if err := sc.save(s); err != nil {
		return "", err
	}
	return digest.NewDigest(digest.SHA256, h), nil
}

// ctxWalk holds the state of one ChecksumContext call. It is used from one
// goroutine: patternmatcher's parent-result matching is not concurrency-safe.
type ctxWalk struct {
	ctx      context.Context
	root     string // absolute context dir
	realRoot string // root with symlinks resolved, for absolute link targets
	pm       *patternmatcher.PatternMatcher
	files    map[string]*fileJob // by real path, so each file is hashed once
	jobs     []*fileJob
}

// ctxEntry is one selected entry. path is where the COPY sees it (through a
// followed symlink, perhaps), relative to the context root.
type ctxEntry struct {
	path   string
	mode   fs.FileMode
	target string   // symlinks
	file   *fileJob // regular files
}

// fileJob is a regular file to digest. real is its path relative to the
// context root with symlinks resolved: the stat cache key.
type fileJob struct {
	real   string
	fi     fs.FileInfo
	digest digest.Digest
}

func (w *ctxWalk) abs(rel string) string {
	return filepath.Join(w.root, filepath.FromSlash(rel))
}

// excluded reports whether .dockerignore hides rel (a real path).
func (w *ctxWalk) excluded(rel string) (bool, error) {
	if rel == "." || len(w.pm.Patterns()) == 0 {
		return false, nil
	}
	return w.pm.MatchesOrParentMatches(rel)
}

var errOutside = errors.New("outside")

// cleanSrc applies Docker's normalisation to a COPY source.
func cleanSrc(src string) (string, error) {
	p := filepath.ToSlash(src)
	for {
		switch {
		case strings.HasPrefix(p, "/"):
			p = p[1:]
		case strings.HasPrefix(p, "./"):
			p = p[2:]
		default:
			p = path.Clean(p)
			if p == ".." || strings.HasPrefix(p, "../") {
				return "", fmt.Errorf("%w: %q", ErrOutsideContext, src)
			}
			return p, nil
		}
	}
}

func splitPath(p string) []string {
	if p == "." || p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// selectSrc returns the cleaned src and the entries it selects.
func (w *ctxWalk) selectSrc(src string) (string, []*ctxEntry, error) {
	clean, err := cleanSrc(src)
	if err != nil {
		return "", nil, err
	}
	wrap := func(err error) error {
		if errors.Is(err, errOutside) {
			return fmt.Errorf("%w: %q", ErrOutsideContext, src)
		}
		return fmt.Errorf("source %q: %w", src, err)
	}
	// Expand wildcards one component at a time: filepath.Match never lets
	// "*" cross a "/", so this matches what Docker's walk-and-match does.
	cands := []string{"."}
	parts := splitPath(clean)
	for i, part := range parts {
		if !hasMeta(part) {
			for i := range cands {
				cands[i] = path.Join(cands[i], part)
			}
			continue
		}
		var next []string
		for _, c := range cands {
			real, fi, err := w.resolve(c)
			if isNotFound(err) || (err == nil && !fi.IsDir()) {
				continue
			}
			if err != nil {
				return "", nil, wrap(err)
			}
			ents, err := os.ReadDir(w.abs(real))
			if err != nil {
				return "", nil, wrap(err)
			}
			for _, e := range ents {
				ok, err := filepath.Match(part, e.Name())
				if err != nil {
					return "", nil, wrap(err)
				}
				// As in Docker's walk, a wildcard never descends through a
				// symlink; only a final match is followed.
				if ok && (i == len(parts)-1 || e.IsDir()) {
					next = append(next, path.Join(c, e.Name()))
				}
			}
		}
		cands = next
	}
	var out []*ctxEntry
	for _, c := range cands {
		if err := w.ctx.Err(); err != nil {
			return "", nil, err
		}
		real, fi, err := w.resolve(c)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return "", nil, wrap(err)
		}
		es, err := w.collect(c, real, fi)
		if err != nil {
			return "", nil, wrap(err)
		}
		out = append(out, es...)
	}
	if len(out) == 0 {
		return "", nil, fmt.Errorf("%q %w in build context", src, ErrNotFound)
	}
	return clean, out, nil
}

func isNotFound(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// resolve follows every symlink in the logical path p, never leaving the
// context: a ".." above the root or an absolute target outside it is
// errOutside. It returns the real path and the stat of what it names. An
// excluded symlink does not exist, since it was never sent.
func (w *ctxWalk) resolve(p string) (string, fs.FileInfo, error) {
	parts := splitPath(p)
	cur := "."
	hops := 0
	for len(parts) > 0 {
		part := parts[0]
		parts = parts[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			if cur == "." {
				return "", nil, errOutside
			}
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, part)
		fi, err := os.Lstat(w.abs(next))
		if err != nil {
			return "", nil, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if len(parts) > 0 && !fi.IsDir() {
				return "", nil, syscall.ENOTDIR
			}
			cur = next
			continue
		}
		if ex, err := w.excluded(next); err != nil {
			return "", nil, err
		} else if ex {
			return "", nil, fs.ErrNotExist
		}
		if hops++; hops > maxSymlinkHops {
			return "", nil, syscall.ELOOP
		}
		t, err := os.Readlink(w.abs(next))
		if err != nil {
			return "", nil, err
		}
		var tparts []string
		if filepath.IsAbs(t) {
			rel, ok := w.inRoot(t)
			if !ok {
				return "", nil, errOutside
			}
			cur = "."
			tparts = splitPath(rel)
		} else {
			tparts = splitPath(filepath.ToSlash(t))
		}
		parts = append(tparts, parts...)
	}
	var (
		fi  fs.FileInfo
		err error
	)
	if cur == "." {
		fi, err = os.Stat(w.root)
	} else {
		fi, err = os.Lstat(w.abs(cur))
	}
	return cur, fi, err
}

// inRoot returns the absolute path t relative to the context root, if it
// is inside it.
func (w *ctxWalk) inRoot(t string) (string, bool) {
	for _, r := range []string{w.root, w.realRoot} {
		rel, err := filepath.Rel(r, filepath.Clean(t))
		if err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return filepath.ToSlash(rel), true
		}
	}
	return "", false
}

// collect returns the entries selected by a resolved src: the entry itself
// and, for a directory, everything under it.
func (w *ctxWalk) collect(logical, real string, fi fs.FileInfo) ([]*ctxEntry, error) {
	var (
		ex   bool
		info patternmatcher.MatchInfo
		err  error
	)
	if real != "." && len(w.pm.Patterns()) > 0 {
		ex, info, err = w.pm.MatchesUsingParentResults(real, patternmatcher.MatchInfo{})
		if err != nil {
			return nil, err
		}
	}
	if !fi.IsDir() {
		if ex {
			return nil, nil
		}
		e, err := w.entry(logical, real, fi)
		return []*ctxEntry{e}, err
	}
	if ex && !w.mayInclude(real) {
		return nil, nil
	}
	sub, err := w.walk(logical, real, info)
	if err != nil || (ex && len(sub) == 0) {
		return nil, err
	}
	e, err := w.entry(logical, real, fi)
	return append([]*ctxEntry{e}, sub...), err
}

// walk lists the directory real (seen as logical) recursively, in name
// order, without following symlinks. Like Docker's context transfer, it
// skips excluded entries but still enters an excluded directory when a "!"
// exception may bring back something inside it, and then keeps the
// directory if anything came back.
func (w *ctxWalk) walk(logical, real string, info patternmatcher.MatchInfo) ([]*ctxEntry, error) {
	if err := w.ctx.Err(); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(w.abs(real))
	if err != nil {
		return nil, err
	}
	var out []*ctxEntry
	for _, de := range ents {
		cl, cr := path.Join(logical, de.Name()), path.Join(real, de.Name())
		fi, err := de.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since the listing
		}
		if err != nil {
			return nil, err
		}
		var (
			ex bool
			ci patternmatcher.MatchInfo
		)
		if len(w.pm.Patterns()) > 0 {
			ex, ci, err = w.pm.MatchesUsingParentResults(cr, info)
			if err != nil {
				return nil, err
			}
		}
		if !fi.IsDir() {
			if !ex {
				e, err := w.entry(cl, cr, fi)
				if err != nil {
					return nil, err
				}
				out = append(out, e)
			}
			continue
		}
		if ex && !w.mayInclude(cr) {
			continue
		}
		sub, err := w.walk(cl, cr, ci)
		if err != nil {
			return nil, err
		}
		if ex && len(sub) == 0 {
			continue
		}
		e, err := w.entry(cl, cr, fi)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		out = append(out, sub...)
	}
	return out, nil
}

// mayInclude reports whether a "!" exception could bring back something
// under the excluded directory dir, as Docker's walk decides whether to
// enter it: an exception with a wildcard might, a literal one only if it
// names a path inside dir. Skipping the rest keeps an excluded node_modules
// from costing a walk.
func (w *ctxWalk) mayInclude(dir string) bool {
	for _, p := range w.pm.Patterns() {
		if !p.Exclusion() {
			continue
		}
		ps := filepath.ToSlash(p.String())
		if hasMeta(ps) || strings.HasPrefix(ps+"/", dir+"/") {
			return true
		}
	}
	return false
}

func (w *ctxWalk) entry(logical, real string, fi fs.FileInfo) (*ctxEntry, error) {
	e := &ctxEntry{path: logical, mode: fi.Mode()}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		t, err := os.Readlink(w.abs(real))
		if err != nil {
			return nil, err
		}
		e.target = t
	case fi.Mode().IsRegular():
		j := w.files[real]
		if j == nil {
			j = &fileJob{real: real, fi: fi}
			w.files[real] = j
			w.jobs = append(w.jobs, j)
		}
		e.file = j
	}
	return e, nil
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// hashFiles fills in the content digests of jobs: from the stat cache where
// the file's stat is unchanged, else by reading it, NumCPU files at a time.
func (s *Store) hashFiles(ctx context.Context, root string, sc *statCache, jobs []*fileJob) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.NumCPU())
	for _, j := range jobs {
		st, cacheable := statOf(j.fi)
		if cacheable {
			if d, ok := sc.lookup(j.real, st); ok {
				j.digest = d
				continue
			}
		}
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			d, err := s.hashFile(filepath.Join(root, filepath.FromSlash(j.real)), st, cacheable)
			if err != nil {
				return fmt.Errorf("checksum %s: %w", j.real, err)
			}
			j.digest = d.digest
			if d.cache {
				sc.put(j.real, st, d.digest)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

type hashResult struct {
	digest digest.Digest
	cache  bool // the content read is the one st describes
}

func (s *Store) hashFile(p string, st fileStat, cacheable bool) (hashResult, error) {
	f, err := openNoFollow(p)
	if err != nil {
		return hashResult{}, err
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return hashResult{}, err
	}
	dg := digest.SHA256.Digester()
	// A plain read loop: io.CopyBuffer would defer to (*os.File).WriteTo,
	// which allocates its own 32 KiB buffer per file.
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	h := dg.Hash()
	for {
		n, err := f.Read(*buf)
		h.Write((*buf)[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return hashResult{}, err
		}
	}
	s.hashed.Add(1)
	r := hashResult{digest: dg.Digest()}
	if !cacheable {
		return r, nil
	}
	after, err := f.Stat()
	if err != nil {
		return r, nil
	}
	// Cache only if nothing changed while we read, and the file is old
	// enough that a same-size rewrite could not keep its timestamps.
	b, _ := statOf(before)
	a, _ := statOf(after)
	r.cache = b == st && a == st && st.cacheable(time.Now())
	return r, nil
}

// modeBits returns the Unix permission bits of m with setuid, setgid and
// sticky, as a tar header would carry them.
func modeBits(m fs.FileMode) uint32 {
	b := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}

func typeChar(m fs.FileMode) byte {
	switch {
	case m.IsRegular():
		return 'f'
	case m.IsDir():
		return 'd'
	case m&fs.ModeSymlink != 0:
		return 'l'
	case m&fs.ModeNamedPipe != 0:
		return 'p'
	case m&fs.ModeSocket != 0:
		return 's'
	case m&fs.ModeCharDevice != 0:
		return 'c'
	case m&fs.ModeDevice != 0:
		return 'b'
	}
	return '?'
}
