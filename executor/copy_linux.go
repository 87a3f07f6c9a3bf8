package executor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"
	"golang.org/x/sys/unix"
)

// initCopy runs in the init child, in its private mount namespace.
func initCopy(c *copyConfig) error {
	empty := filepath.Join(c.Dir, "empty")
	dest := filepath.Join(c.Dir, "dest")
	if err := mountOverlay(dest, c.Dest.Lower, empty, c.Dest.Upper, c.Dest.Work); err != nil {
		return err
	}
	cp := &copier{destRoot: dest, links: map[[2]uint64]string{}}
	switch {
	case c.SrcDir != "":
		cp.srcRoot, cp.fromContext = c.SrcDir, true
	case len(c.SrcLower) == 0:
		cp.srcRoot = empty
	case len(c.SrcLower) == 1:
		// A bottom layer's whiteouts hide nothing; skip them.
		cp.srcRoot, cp.skipWhiteouts = c.SrcLower[0], true
	default:
		cp.srcRoot = filepath.Join(c.Dir, "src")
		if err := mountOverlay(cp.srcRoot, c.SrcLower, empty, "", ""); err != nil {
			return err
		}
	}
	if len(c.Excludes) > 0 {
		pm, err := patternmatcher.New(c.Excludes)
		if err != nil {
			return fmt.Errorf("%w: excludes: %v", ErrInvalidSpec, err)
		}
		cp.pm = pm
	}
	if err := cp.setFlags(c); err != nil {
		return err
	}
	if c.Chown != "" {
		ur, err := usersRoot(c, dest, empty)
		if err != nil {
			return err
		}
		users, err := readDBIn(ur, "/etc/passwd", parsePasswd)
		if err != nil {
			return err
		}
		groups, err := readDBIn(ur, "/etc/group", parseGroup)
		if err != nil {
			return err
		}
		if cp.uid, cp.gid, err = resolveChown(c.Chown, users, groups); err != nil {
			return err
		}
		cp.chown = true
	}
	if c.Chmod != "" {
		m, err := parseChmod(c.Chmod)
		if err != nil {
			return err
		}
		cp.mode, cp.chmod = m, true
	}
	return cp.copy(c.Src, c.DestPath)
}

func readDBIn[T any](root, p string, parse func(io.Reader) ([]T, error)) ([]T, error) {
	full, err := securejoin.SecureJoin(root, p)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", p, err)
	}
	out, err := readDB(full, parse)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return out, nil
}

// copier copies with Docker's COPY semantics. Every destination path is
// resolved inside destRoot, every source path inside srcRoot.
type copier struct {
	srcRoot, destRoot string
	fromContext       bool
	skipWhiteouts     bool
	pm                *patternmatcher.PatternMatcher

	chown    bool
	uid, gid int
	chmod    bool
	mode     uint32

	links map[[2]uint64]string // source (dev, inode) → first destination, for hard links
	dirs  []dirMeta            // directories whose metadata is set last

	// COPY --exclude, --parents and ADD's extraction (copyflags_linux.go).
	skip             *patternmatcher.PatternMatcher
	curSrc           string // the source being copied, for skip
	parents, extract bool
}

type dirMeta struct {
	path string
	st   *unix.Stat_t
}

type source struct {
	pivot string // --parents: the prefix to drop
	rel   string // relative to the source root, as named (not resolved)
	full  string // resolved inside the source root
	st    unix.Stat_t
}

func (c *copier) copy(srcs []string, destPath string) error {
	var sources []source
	multi := len(srcs) > 1
	for _, s := range srcs {
		rel, err := cleanSrc(s)
		if err != nil {
			return err
		}
		var rels []string
		if hasMeta(rel) {
			multi = true
			if rels, err = c.glob(rel); err != nil {
				return err
			}
		} else {
			rels = []string{rel}
		}
		n := 0
		for _, r := range rels {
			src, ok, err := c.source(r)
			if err != nil {
				return err
			}
			if ok && c.skip != nil && src.st.Mode&unix.S_IFMT != unix.S_IFDIR && c.skipped(path.Base(r)) {
				n++ // found, but --exclude'd: not an error
				continue
			}
			if ok {
				src.pivot = pivot(s)
				sources = append(sources, src)
				n++
			}
		}
		if n == 0 {
			return notFound(s, c.fromContext)
		}
	}

	destIsDir := multi || strings.HasSuffix(destPath, "/")
	destRel := strings.TrimPrefix(path.Clean("/"+destPath), "/")
	if !destIsDir {
		if full, err := securejoin.SecureJoin(c.destRoot, destRel); err == nil {
			if fi, err := os.Stat(full); err == nil && fi.IsDir() {
				destIsDir = true
			}
		}
	}
	for _, src := range sources {
		var err error
		c.curSrc = src.rel
		isDir := src.st.Mode&unix.S_IFMT == unix.S_IFDIR
		if c.extract && src.st.Mode&unix.S_IFMT == unix.S_IFREG {
			// ADD: an archive unpacks into the destination directory.
			ok, err := c.extractArchive(src.full, destRel)
			if err != nil {
				return err
			}
			if ok {
				continue
			}
		}
		switch {
		case c.parents && isDir:
			var dst string
			if dst, err = c.mkdirAll(parentsDest(destRel, src.pivot, src.rel), &src.st); err == nil {
				err = c.copyDir(src.full, dst, src.rel, nil)
			}
		case c.parents:
			d := parentsDest(destRel, src.pivot, src.rel)
			var dir string
			if dir, err = c.mkdirAll(path.Dir(d), nil); err == nil {
				err = c.copyEntry(src.full, filepath.Join(dir, path.Base(d)), &src.st)
			}
		case isDir:
			var dst string
			if dst, err = c.mkdirAll(destRel, &src.st); err == nil {
				err = c.copyDir(src.full, dst, src.rel, nil)
			}
		case destIsDir:
			var dir string
			if dir, err = c.mkdirAll(destRel, nil); err == nil {
				err = c.copyEntry(src.full, filepath.Join(dir, path.Base(src.rel)), &src.st)
			}
		default:
			var dir string
			if dir, err = c.mkdirAll(path.Dir(destRel), nil); err == nil {
				err = c.copyEntry(src.full, filepath.Join(dir, path.Base(destRel)), &src.st)
			}
		}
		if err != nil {
			return err
		}
	}
	// Children change their directory's mtime; set it once they are done.
	for i := len(c.dirs) - 1; i >= 0; i-- {
		if err := c.setMeta(c.dirs[i].path, c.dirs[i].st); err != nil {
			return err
		}
	}
	return nil
}

// source resolves rel in the source root, following a symlink it names;
// ok is false when it does not exist or is excluded (invisible).
func (c *copier) source(rel string) (source, bool, error) {
	if c.excluded(rel) {
		return source{}, false, nil
	}
	full, err := securejoin.SecureJoin(c.srcRoot, rel)
	if err != nil {
		return source{}, false, fmt.Errorf("resolve %s: %w", rel, err)
	}
	s := source{rel: rel, full: full}
	if err := unix.Lstat(full, &s.st); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return s, false, nil
		}
		return s, false, fmt.Errorf("stat %s: %w", rel, err)
	}
	if s.st.Mode&unix.S_IFMT == unix.S_IFLNK || c.isWhiteout(&s.st) {
		return s, false, nil // a dangling link
	}
	if resolved, err := filepath.Rel(c.srcRoot, full); err == nil && resolved != rel && c.excluded(filepath.ToSlash(resolved)) {
		return s, false, nil
	}
	return s, true, nil
}

// glob expands a pattern one path element at a time, resolving each
// directory inside the source root.
func (c *copier) glob(pattern string) ([]string, error) {
	cur := []string{""}
	for _, elem := range strings.Split(pattern, "/") {
		var next []string
		for _, base := range cur {
			if !hasMeta(elem) {
				next = append(next, path.Join(base, elem))
				continue
			}
			dir, err := securejoin.SecureJoin(c.srcRoot, base)
			if err != nil {
				return nil, fmt.Errorf("resolve %s: %w", base, err)
			}
			names, err := readDirNames(dir)
			if err != nil {
				continue // not a directory, or gone: no match
			}
			for _, n := range names {
				ok, err := path.Match(elem, n)
				if err != nil {
					return nil, &kindError{msg: fmt.Sprintf("%q: %v", pattern, err), kind: ErrInvalidSpec}
				}
				if ok {
					next = append(next, path.Join(base, n))
				}
			}
		}
		cur = next
	}
	sort.Strings(cur)
	return cur, nil
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}

// excluded reports whether rel (relative to the build context) is hidden
// by the excludes.
func (c *copier) excluded(rel string) bool {
	if c.pm == nil || rel == "." {
		return false
	}
	m, err := c.pm.MatchesOrParentMatches(rel)
	return err == nil && m
}

func (c *copier) isWhiteout(st *unix.Stat_t) bool {
	return c.skipWhiteouts && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// lazyDir is a destination directory created only once something is copied
// into it: an excluded directory may still hold re-included files.
type lazyDir struct {
	c      *copier
	parent *lazyDir
	path   string // before creation: where it goes; after: where it is
	st     *unix.Stat_t
	made   bool
}

func (l *lazyDir) make() (string, error) {
	if l.made {
		return l.path, nil
	}
	if l.parent != nil {
		p, err := l.parent.make()
		if err != nil {
			return "", err
		}
		l.path = filepath.Join(p, filepath.Base(l.path))
	}
	p, err := l.c.mkdirEntry(l.path, l.st)
	if err != nil {
		return "", err
	}
	l.path, l.made = p, true
	return p, nil
}

// copyDir copies the contents of src into the existing directory dst (or
// into lazy, made on first use).
func (c *copier) copyDir(src, dst, rel string, lazy *lazyDir) error {
	names, err := readDirNames(src)
	if err != nil {
		return fmt.Errorf("read %s: %w", rel, err)
	}
	for _, n := range names {
		s := filepath.Join(src, n)
		r := path.Join(rel, n)
		var st unix.Stat_t
		if err := unix.Lstat(s, &st); err != nil {
			return fmt.Errorf("stat %s: %w", r, err)
		}
		if c.isWhiteout(&st) {
			continue
		}
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		excl := c.excluded(r) || c.skipped(r)
		if excl && !(isDir && c.exclusions()) {
			continue
		}
		parent := dst
		if lazy != nil {
			if excl {
				// Only descend: a later "!" pattern may bring a child back.
				sub := &lazyDir{c: c, parent: lazy, path: filepath.Join(lazy.path, n), st: &st}
				if err := c.copyDir(s, "", r, sub); err != nil {
					return err
				}
				continue
			}
			if parent, err = lazy.make(); err != nil {
				return err
			}
		}
		d := filepath.Join(parent, n)
		if excl {
			sub := &lazyDir{c: c, path: d, st: &st}
			if err := c.copyDir(s, "", r, sub); err != nil {
				return err
			}
			continue
		}
		if err := c.copyEntry(s, d, &st); err != nil {
			return err
		}
		if isDir {
			// copyEntry made the directory; find where (it may be a link
			// into the image) and fill it.
			real, err := c.resolveDest(d)
			if err != nil {
				return err
			}
			if err := c.copyDir(s, real, r, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// resolveDest resolves a destination path (under destRoot) inside the root.
func (c *copier) resolveDest(p string) (string, error) {
	rel, err := filepath.Rel(c.destRoot, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("destination %s outside the rootfs", p)
	}
	full, err := securejoin.SecureJoin(c.destRoot, rel)
	if err != nil {
		return "", fmt.Errorf("resolve /%s: %w", rel, err)
	}
	return full, nil
}

func (c *copier) destName(p string) string {
	rel, _ := filepath.Rel(c.destRoot, p)
	return "/" + rel
}

// mkdirAll creates rel (relative to destRoot) and its missing parents,
// following symlinks in the image only inside it. Parents are 0755 and
// owned by the chown user; rel itself gets st's metadata when st is set.
func (c *copier) mkdirAll(rel string, st *unix.Stat_t) (string, error) {
	cur := c.destRoot
	if rel == "." || rel == "" {
		return cur, nil
	}
	elems := strings.Split(rel, "/")
	for i, e := range elems {
		var meta *unix.Stat_t
		if i == len(elems)-1 {
			meta = st
		}
		next, err := c.mkdirEntry(filepath.Join(cur, e), meta)
		if err != nil {
			return "", err
		}
		cur = next
	}
	return cur, nil
}

// mkdirEntry makes sure p is a directory, returning where it really is: an
// existing directory is merged into (its metadata kept), a symlink to one
// (or to nothing) is followed inside the rootfs, anything else is replaced. A new directory
// gets st's metadata, or 0755 and the chown owner when st is nil.
func (c *copier) mkdirEntry(p string, st *unix.Stat_t) (string, error) {
	var cur unix.Stat_t
	err := unix.Lstat(p, &cur)
	switch {
	case err == nil && cur.Mode&unix.S_IFMT == unix.S_IFDIR:
		return p, nil
	case err == nil && cur.Mode&unix.S_IFMT == unix.S_IFLNK:
		real, err := c.resolveDest(p)
		if err != nil {
			return "", err
		}
		fi, err := os.Stat(real)
		if err == nil && fi.IsDir() {
			return real, nil
		}
		if errors.Is(err, os.ErrNotExist) {
			// A dangling link in the image: make its target, inside the
			// rootfs, as mkdir -p through it would.
			rel, _ := filepath.Rel(c.destRoot, real)
			return c.mkdirAll(filepath.ToSlash(rel), st)
		}
		if err := os.Remove(p); err != nil {
			return "", fmt.Errorf("replace %s: %w", c.destName(p), err)
		}
	case err == nil:
		if err := os.Remove(p); err != nil {
			return "", fmt.Errorf("replace %s: %w", c.destName(p), err)
		}
	case !errors.Is(err, unix.ENOENT):
		return "", fmt.Errorf("stat %s: %w", c.destName(p), err)
	}
	if err := unix.Mkdir(p, 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", c.destName(p), err)
	}
	if st != nil {
		c.dirs = append(c.dirs, dirMeta{path: p, st: st})
		return p, nil
	}
	uid, gid := 0, 0
	if c.chown {
		uid, gid = c.uid, c.gid
	}
	if err := unix.Lchown(p, uid, gid); err != nil {
		return "", fmt.Errorf("chown %s: %w", c.destName(p), err)
	}
	if err := unix.Chmod(p, 0o755); err != nil {
		return "", fmt.Errorf("chmod %s: %w", c.destName(p), err)
	}
	return p, nil
}

// copyEntry copies one non-excluded entry (a directory without its
// contents) from src to dst.
func (c *copier) copyEntry(src, dst string, st *unix.Stat_t) error {
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		_, err := c.mkdirEntry(dst, st)
		return err
	}
	var cur unix.Stat_t
	if err := unix.Lstat(dst, &cur); err == nil {
		if cur.Mode&unix.S_IFMT == unix.S_IFDIR {
			return fmt.Errorf("copy %s: cannot overwrite directory %s with a file", src, c.destName(dst))
		}
		if err := os.Remove(dst); err != nil {
			return fmt.Errorf("replace %s: %w", c.destName(dst), err)
		}
	}
	key := [2]uint64{uint64(st.Dev), st.Ino}
	if st.Nlink > 1 && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if first, ok := c.links[key]; ok {
			if err := os.Link(first, dst); err == nil {
				return nil
			}
			// Fall through and copy: the first may have been replaced.
		}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		if err := copyFile(src, dst); err != nil {
			return fmt.Errorf("copy %s: %w", c.destName(dst), err)
		}
	case unix.S_IFLNK:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, dst); err != nil {
			return fmt.Errorf("copy %s: %w", c.destName(dst), err)
		}
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		if err := unix.Mknod(dst, st.Mode, int(st.Rdev)); err != nil {
			return fmt.Errorf("copy %s: %w", c.destName(dst), err)
		}
	default:
		return nil // sockets are not copied
	}
	if st.Nlink > 1 {
		c.links[key] = dst
	}
	return c.setMeta(dst, st)
}

func copyFile(src, dst string) error {
	in, err := os.OpenFile(src, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	// A reflink shares the data where the filesystem can (btrfs, xfs with
	// reflink, overlayfs over them): a COPY of a big file then costs
	// metadata, not bytes. Elsewhere io.Copy uses copy_file_range or
	// sendfile, in the kernel.
	if unix.IoctlFileClone(int(out.Fd()), int(in.Fd())) == nil {
		return out.Close()
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// setMeta gives dst its owner, mode and times: owner 0:0 from a build
// context, preserved from layers, or the chown user; mode preserved or the
// chmod. chown comes before chmod, which it would clear setuid bits of.
func (c *copier) setMeta(dst string, st *unix.Stat_t) error {
	uid, gid := 0, 0
	switch {
	case c.chown:
		uid, gid = c.uid, c.gid
	case !c.fromContext:
		uid, gid = int(st.Uid), int(st.Gid)
	}
	if err := unix.Lchown(dst, uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", c.destName(dst), err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		mode := st.Mode & 0o7777
		if c.chmod {
			mode = c.mode
		}
		if err := unix.Chmod(dst, mode); err != nil {
			return fmt.Errorf("chmod %s: %w", c.destName(dst), err)
		}
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times of %s: %w", c.destName(dst), err)
	}
	return nil
}
