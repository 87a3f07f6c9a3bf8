package executor

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/internal/compression"
)

// ADD unpacks a local tar archive (plain, gzip, bzip2, xz or zstd, known by
// its magic bytes, never its name) into the destination directory, merging
// with what is there, as Docker does. The archive is untrusted: names that
// are absolute or climb out with ".." are refused, parents are resolved
// inside the rootfs (a symlink, from the image or from an earlier entry,
// never leads out), hard links must point inside the rootfs. This mirrors
// exporter.ExtractLayer, except that the target is a merged rootfs rather
// than an empty layer dir, and whiteout names are plain files here.

// errUnsafeEntry reports a tar entry that would land outside the rootfs.
var errUnsafeEntry = errors.New("path escapes the destination")

// openArchive returns the tar stream of the file at p, or ok false if p is
// not a (possibly compressed) tar archive.
func openArchive(p string) (tr *tar.Reader, closeFn func(), ok bool, err error) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, nil, false, err
	}
	rd, closeRd, err := decompress(f)
	if err != nil {
		f.Close()
		return nil, nil, false, nil // compressed but not readable: a plain file
	}
	closeFn = func() { closeRd(); f.Close() }
	// Docker's test: the (decompressed) stream starts with a tar header.
	br := bufio.NewReaderSize(rd, 64<<10)
	head, _ := br.Peek(512)
	if _, err := tar.NewReader(bytes.NewReader(head)).Next(); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		closeFn()
		return nil, nil, false, nil
	}
	if len(head) < 512 {
		closeFn()
		return nil, nil, false, nil
	}
	return tar.NewReader(br), closeFn, true, nil
}

// decompress sniffs the compression of r.
func decompress(r io.Reader) (io.Reader, func(), error) {
	rc, err := compression.Decompress(r)
	if err != nil {
		return nil, nil, err
	}
	return rc, func() { rc.Close() }, nil
}

// extractArchive unpacks the archive at src into destRel (relative to the
// rootfs, created as a directory). ok is false, and nothing is written, when
// src is not an archive.
func (c *copier) extractArchive(src, destRel string) (ok bool, err error) {
	tr, closeFn, ok, err := openArchive(src)
	if err != nil || !ok {
		return false, err
	}
	defer closeFn()
	dir, err := c.mkdirAll(destRel, nil)
	if err != nil {
		return true, err
	}
	x := &untar{c: c, dir: dir, dirTimes: map[string]time.Time{}}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return true, fmt.Errorf("extract %s: %w", path.Base(src), err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return true, fmt.Errorf("extract %s: %q: %w", path.Base(src), hdr.Name, err)
		}
	}
	for i := len(x.dirOrder) - 1; i >= 0; i-- {
		p := x.dirOrder[i]
		mt, ok := x.dirTimes[p]
		if !ok {
			continue
		}
		ts := []unix.Timespec{unix.NsecToTimespec(mt.UnixNano()), unix.NsecToTimespec(mt.UnixNano())}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return true, fmt.Errorf("set times of %s: %w", c.destName(p), err)
		}
	}
	return true, nil
}

type untar struct {
	c        *copier
	dir      string // the destination directory, resolved in the rootfs
	dirTimes map[string]time.Time
	dirOrder []string
}

// cleanEntry returns a tar name cleaned and relative to the extraction
// directory ("" for the directory itself).
func cleanEntry(name string) (string, error) {
	if strings.ContainsRune(name, 0) {
		return "", errUnsafeEntry
	}
	// Docker strips a leading "/" (tar's own behaviour); ".." must not climb
	// out.
	c := path.Clean("/" + name)
	if c == "/" {
		return "", nil
	}
	c = strings.TrimPrefix(c, "/")
	for _, e := range strings.Split(name, "/") {
		if e == ".." {
			return "", errUnsafeEntry
		}
	}
	return c, nil
}

// resolve returns the host path of rel (relative to the extraction dir),
// resolved inside the rootfs.
func (x *untar) resolve(rel string) (string, error) {
	destRel, err := filepath.Rel(x.c.destRoot, x.dir)
	if err != nil {
		return "", err
	}
	p, err := securejoin.SecureJoin(x.c.destRoot, filepath.Join(destRel, rel))
	if err != nil {
		return "", err
	}
	if p != x.c.destRoot && !strings.HasPrefix(p, x.c.destRoot+"/") {
		return "", errUnsafeEntry
	}
	return p, nil
}

func (x *untar) entry(hdr *tar.Header, r io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader, tar.TypeXHeader:
		return nil
	}
	name, err := cleanEntry(hdr.Name)
	if err != nil {
		return err
	}
	if name == "" {
		return nil // the destination keeps its own attributes
	}
	parentRel, base := path.Split(name)
	parent, err := x.resolve(parentRel)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	target := filepath.Join(parent, base)
	// A later entry replaces an earlier one (or the image's file); a
	// directory merges. Removing first means a symlink at target is never
	// followed.
	if fi, err := os.Lstat(target); err == nil {
		if !(fi.IsDir() && hdr.Typeflag == tar.TypeDir) {
			if err := os.RemoveAll(target); err != nil {
				return err
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(target, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	case tar.TypeReg, tar.TypeRegA:
		f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := os.Symlink(hdr.Linkname, target); err != nil {
			return err
		}
	case tar.TypeLink:
		lname, err := cleanEntry(hdr.Linkname)
		if err != nil || lname == "" {
			return fmt.Errorf("link to %q: %w", hdr.Linkname, errUnsafeEntry)
		}
		lparent, lbase := path.Split(lname)
		lp, err := x.resolve(lparent)
		if err != nil {
			return err
		}
		src := filepath.Join(lp, lbase)
		fi, err := os.Lstat(src)
		if err != nil {
			return fmt.Errorf("link to %q: %w", hdr.Linkname, err)
		}
		if fi.IsDir() {
			return fmt.Errorf("link to %q: a directory", hdr.Linkname)
		}
		// link(2) does not follow a symlink at src.
		return os.Link(src, target)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode := uint32(hdr.Mode & 0o7777)
		switch hdr.Typeflag {
		case tar.TypeChar:
			mode |= unix.S_IFCHR
		case tar.TypeBlock:
			mode |= unix.S_IFBLK
		default:
			mode |= unix.S_IFIFO
		}
		if err := unix.Mknod(target, mode, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))); err != nil {
			return err
		}
	default:
		return nil // other types (sockets, GNU sparse…) are skipped, as Docker does
	}
	return x.meta(target, hdr)
}

// meta gives target the entry's owner (or the --chown user), mode and
// times; chown before chmod, which it would clear setuid bits of.
func (x *untar) meta(target string, hdr *tar.Header) error {
	uid, gid := hdr.Uid, hdr.Gid
	if x.c.chown {
		uid, gid = x.c.uid, x.c.gid
	}
	if err := unix.Lchown(target, uid, gid); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeSymlink {
		if err := unix.Chmod(target, uint32(hdr.Mode&0o7777)); err != nil {
			return err
		}
	}
	if hdr.Typeflag == tar.TypeDir {
		if _, seen := x.dirTimes[target]; !seen {
			x.dirOrder = append(x.dirOrder, target)
		}
		x.dirTimes[target] = hdr.ModTime
		return nil
	}
	ts := []unix.Timespec{unix.NsecToTimespec(hdr.ModTime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW)
}
