package exporter

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/kiln-build/kiln/internal/compression"
)

// ExtractLayer reads a layer tar (gzip, zstd or uncompressed, detected by
// magic) and writes it into dir, which must be empty or not exist, in
// overlay form so that dir can serve as an overlay lowerdir: ".wh.x"
// entries become 0/0 character devices and ".wh..wh..opq" marks its
// directory opaque with trusted.overlay.opaque=y.
//
// The tar is untrusted. Names that are absolute or climb out with ".." are
// refused; every parent directory is resolved inside dir, symlinks
// included, so an entry written through a symlink from an earlier entry
// lands inside dir too; hard links must point inside dir. Overlay xattrs
// in the tar are dropped: only the whiteouts above may create them.
func ExtractLayer(ctx context.Context, r io.Reader, dir string) error {
	root, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("extract layer: %w", err)
	}
	if err := prepareRoot(root); err != nil {
		return fmt.Errorf("extract layer: %w", err)
	}
	return extract(ctx, r, &extractor{root: root, dirTimes: make(map[string]time.Time)})
}

func extract(ctx context.Context, r io.Reader, x *extractor) error {
	rd, err := decompress(r)
	if err != nil {
		return fmt.Errorf("extract layer: %w", err)
	}
	defer rd.Close()

	tr := tar.NewReader(rd)
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("extract layer: %w", err)
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("extract layer: read tar: %w", err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return fmt.Errorf("extract layer: %q: %w", hdr.Name, err)
		}
	}
	// Read to the end so the gzip checksum is verified.
	if _, err := io.Copy(io.Discard, rd); err != nil {
		return fmt.Errorf("extract layer: read tar: %w", err)
	}
	// Directory times last: creating entries inside changed them.
	for _, p := range x.dirOrder {
		mtime, ok := x.dirTimes[p]
		if !ok {
			continue
		}
		if fi, err := os.Lstat(p); err != nil || !fi.IsDir() {
			continue // replaced or removed by a later entry
		}
		if err := lutimes(p, mtime, mtime); err != nil {
			return fmt.Errorf("extract layer: %w", err)
		}
	}
	return nil
}

func prepareRoot(root string) error {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	f, err := os.Open(root)
	if err != nil {
		return err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err != nil && err != io.EOF {
		return err
	}
	if len(names) > 0 {
		return ErrNotEmpty
	}
	return nil
}

// decompress returns the uncompressed stream of r, sniffing the format.
func decompress(r io.Reader) (io.ReadCloser, error) { return compression.Decompress(r) }

type extractor struct {
	root     string
	dirTimes map[string]time.Time // directory → mtime, set at the end
	dirOrder []string
	// apply, set by ApplyLayer, carries out whiteouts instead of
	// converting them; created holds the paths this layer wrote, which an
	// opaque whiteout of their directory keeps.
	apply   bool
	created map[string]bool
}

// cleanName returns name cleaned and relative to the root ("" for the root
// itself), or ErrUnsafePath if it is absolute or leaves the root.
func cleanName(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") || strings.ContainsRune(name, 0) {
		return "", ErrUnsafePath
	}
	c := path.Clean(name)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", ErrUnsafePath
	}
	if c == "." {
		return "", nil
	}
	return c, nil
}

// resolveParent returns the host path of the directory rel (slash
// separated, relative to the root), resolving symlinks inside the root and
// creating missing directories 0755.
func (x *extractor) resolveParent(rel string) (string, error) {
	if rel == "" {
		return x.root, nil
	}
	p, err := securejoin.SecureJoin(x.root, filepath.FromSlash(rel))
	if err != nil {
		return "", fmt.Errorf("resolve %q: %w", rel, err)
	}
	if !x.inside(p) {
		return "", ErrUnsafePath // SecureJoin guarantees this; keep the check local
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		return "", err
	}
	return p, nil
}

func (x *extractor) inside(p string) bool {
	return p == x.root || strings.HasPrefix(p, x.root+string(filepath.Separator))
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "" {
		// The root's own attributes belong to whoever creates the layer
		// directory, not to the tar.
		return nil
	}
	parentRel, base := path.Split(name)
	parent, err := x.resolveParent(strings.TrimSuffix(parentRel, "/"))
	if err != nil {
		return err
	}
	if strings.HasPrefix(base, whiteoutPrefix) {
		return x.whiteout(hdr, parent, base)
	}
	target := filepath.Join(parent, base)

	// A later entry replaces an earlier one, except that a directory over
	// a directory merges. Removing first also means a symlink left at
	// target is never followed.
	if fi, err := os.Lstat(target); err == nil {
		if !(fi.IsDir() && hdr.Typeflag == tar.TypeDir) {
			if err := os.RemoveAll(target); err != nil {
				return err
			}
			delete(x.dirTimes, target)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}

	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(target, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	case tar.TypeReg:
		f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY|noFollow, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write content: %w", err)
		}
	case tar.TypeSymlink:
		// The target is stored as is; it is never followed here, since
		// every later lookup resolves inside the root.
		if err := os.Symlink(hdr.Linkname, target); err != nil {
			return err
		}
	case tar.TypeLink:
		src, err := x.resolveLink(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("link to %q: %w", hdr.Linkname, err)
		}
		// link(2) does not follow a symlink at src, so the new name
		// refers to what is inside the root.
		if err := os.Link(src, target); err != nil {
			return err
		}
		// The header repeats the metadata of the linked file; applying it
		// again would only touch the shared inode.
		return nil
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if err := mknod(target, hdr.Typeflag, hdr.Mode, hdr.Devmajor, hdr.Devminor); err != nil {
			return err
		}
	default:
		return fmt.Errorf("type %q: %w", hdr.Typeflag, ErrUnsupportedEntry)
	}
	if x.created != nil {
		x.created[target] = true
	}
	return x.applyMeta(target, hdr)
}

// resolveLink returns the host path of a hard link's target, which must be
// an existing non-directory inside the root.
func (x *extractor) resolveLink(linkname string) (string, error) {
	name, err := cleanName(linkname)
	if err != nil {
		return "", err
	}
	if name == "" {
		return "", ErrUnsafePath
	}
	parentRel, base := path.Split(name)
	parent := x.root
	if parentRel != "" {
		parent, err = securejoin.SecureJoin(x.root, filepath.FromSlash(strings.TrimSuffix(parentRel, "/")))
		if err != nil {
			return "", err
		}
	}
	src := filepath.Join(parent, base)
	if !x.inside(src) || src == x.root {
		return "", ErrUnsafePath
	}
	fi, err := os.Lstat(src)
	if err != nil {
		return "", err
	}
	if fi.IsDir() {
		return "", fmt.Errorf("hard link to directory: %w", ErrUnsupportedEntry)
	}
	return src, nil
}

// whiteout converts an OCI whiteout entry into overlay form.
func (x *extractor) whiteout(hdr *tar.Header, parent, base string) error {
	if x.apply {
		return x.applyWhiteout(parent, base)
	}
	if base == whiteoutOpaque {
		return setXattr(parent, xattrOpaque, []byte("y"))
	}
	if strings.HasPrefix(base, whiteoutMeta) {
		return nil // other AUFS metadata (.wh..wh.plnk, ...) means nothing to overlay
	}
	name := strings.TrimPrefix(base, whiteoutPrefix)
	if name == "" || name == "." || name == ".." {
		return ErrUnsafePath
	}
	target := filepath.Join(parent, name)
	if err := os.RemoveAll(target); err != nil {
		return err
	}
	delete(x.dirTimes, target)
	if err := mknod(target, tar.TypeChar, 0, 0, 0); err != nil {
		return err
	}
	if err := lchown(target, hdr.Uid, hdr.Gid); err != nil {
		return err
	}
	return lutimes(target, hdr.ModTime, hdr.ModTime)
}

// applyMeta sets owner, mode, xattrs and times of the entry just created at
// target. Chown comes first because it clears setuid bits and file
// capabilities.
func (x *extractor) applyMeta(target string, hdr *tar.Header) error {
	if err := lchown(target, hdr.Uid, hdr.Gid); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeSymlink {
		if err := chmod(target, hdr.Mode); err != nil {
			return err
		}
	}
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok {
			continue
		}
		if strings.HasPrefix(name, overlayPrefix) || strings.HasPrefix(name, userOverlayPrefix) {
			// Overlay xattrs could redirect lookups or hide files; only
			// whiteout entries may produce them.
			continue
		}
		if err := setXattr(target, name, []byte(v)); err != nil {
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
	return lutimes(target, hdr.ModTime, hdr.ModTime)
}
