package exporter

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// LayerBlob is a layer diff written to a BlobStore.
type LayerBlob struct {
	DiffID digest.Digest      // sha256 of the uncompressed tar
	Blob   ocispec.Descriptor // the gzip-compressed tar: media type, digest, size
	Empty  bool               // the directory had no entries
}

// OCI whiteout names (image-spec layer.md).
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// gzipBlockSize is fixed because pgzip compresses each block on its own
// (primed with the previous block's tail): the output depends on the block
// size, so it must not depend on the machine. Concurrency does not change
// the output and is left to GOMAXPROCS.
const gzipBlockSize = 1 << 20

// WriteLayer tars dir, an overlay upper directory, as an OCI layer diff,
// compresses it with pgzip and stores it in bs. The tar streams through a
// pipe into bs; no temporary copy of the layer is made.
//
// The output is a function of the tree alone, so equal trees give equal
// DiffIDs and blob digests: entries are written depth first with names
// sorted bytewise within a directory, headers carry numeric ids only, no
// atime or ctime, and mtimes truncated to whole seconds (USTAR headers hold
// whole seconds, and sub-second times would force a PAX record onto nearly
// every entry for precision nothing in a build relies on). Headers are
// USTAR unless a long name, a large id or an xattr needs PAX.
//
// Overlay whiteouts (0/0 character devices) become ".wh." files and opaque
// directories get a ".wh..wh..opq" entry. Of the xattrs only
// security.capability is kept, as docker does; overlay's own are never
// written. Sockets are skipped.
func WriteLayer(ctx context.Context, bs BlobStore, dir string, opts ...LayerOption) (LayerBlob, error) {
	var lo layerOptions
	for _, o := range opts {
		o(&lo)
	}
	var (
		diffID  digest.Digest
		entries int
	)
	d, size, err := putStream(bs, func(w io.Writer) error {
		var err error
		diffID, entries, err = writeLayerStream(ctx, dir, w, lo)
		return err
	})
	if err != nil {
		return LayerBlob{}, fmt.Errorf("write layer: %w", err)
	}
	return LayerBlob{
		DiffID: diffID,
		Blob: ocispec.Descriptor{
			MediaType: lo.comp.MediaType(),
			Digest:    d,
			Size:      size,
		},
		Empty: entries == 0,
	}, nil
}

// writeLayerStream writes the compressed layer of dir to w and returns the
// digest of the uncompressed tar and the number of entries.
func writeLayerStream(ctx context.Context, dir string, w io.Writer, lo layerOptions) (digest.Digest, int, error) {
	// NewCompressor's gzip is pgzip with a fixed block size and an empty
	// header (mtime 0, no name): the output depends on the tree alone.
	gz, err := NewCompressor(w, lo.comp, lo.level)
	if err != nil {
		return "", 0, err
	}

	digester := digest.SHA256.Digester()
	lw := &layerWriter{
		ctx:   ctx,
		root:  dir,
		tw:    tar.NewWriter(io.MultiWriter(digester.Hash(), gz)),
		links: make(map[fileID]string),
		epoch: lo.epoch,
	}
	if err := lw.walk(""); err != nil {
		gz.Close()
		return "", 0, err
	}
	if err := lw.tw.Close(); err != nil {
		gz.Close()
		return "", 0, fmt.Errorf("close tar: %w", err)
	}
	if err := gz.Close(); err != nil {
		return "", 0, fmt.Errorf("close gzip: %w", err)
	}
	return digester.Digest(), lw.entries, nil
}

type fileID struct{ dev, ino uint64 }

type layerWriter struct {
	ctx     context.Context
	root    string
	tw      *tar.Writer
	links   map[fileID]string // first path written for each multiply linked inode
	entries int
	epoch   *time.Time // SOURCE_DATE_EPOCH: later mtimes are clamped to it
}

type dirEntry struct {
	name string // on disk
	out  string // in the tar: differs for whiteouts
	st   fileStat
}

// walk writes the entries of the directory rel (relative to the root,
// slash separated, "" for the root) and then, depth first, their children.
func (lw *layerWriter) walk(rel string) error {
	des, err := os.ReadDir(filepath.Join(lw.root, filepath.FromSlash(rel)))
	if err != nil {
		return fmt.Errorf("read dir %q: %w", rel+"/", err)
	}
	ents := make([]dirEntry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		relName := joinRel(rel, name)
		if strings.HasPrefix(name, whiteoutPrefix) {
			return fmt.Errorf("%q: %w", relName, ErrReservedName)
		}
		st, err := lstat(lw.path(relName))
		if err != nil {
			return err
		}
		out := name
		if isWhiteout(st) {
			out = whiteoutPrefix + name
		}
		ents = append(ents, dirEntry{name: name, out: out, st: st})
	}
	// Sort by the name written, so the tar is ordered whatever the
	// whiteout renaming did.
	sort.Slice(ents, func(i, j int) bool { return ents[i].out < ents[j].out })

	for _, e := range ents {
		if err := lw.ctx.Err(); err != nil {
			return err
		}
		relName := joinRel(rel, e.name)
		if err := lw.writeEntry(relName, joinRel(rel, e.out), e.st); err != nil {
			return fmt.Errorf("%q: %w", relName, err)
		}
		if e.st.kind == kindDir {
			if err := lw.walk(relName); err != nil {
				return err
			}
		}
	}
	return nil
}

func (lw *layerWriter) path(rel string) string {
	return filepath.Join(lw.root, filepath.FromSlash(rel))
}

func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// isWhiteout reports whether st is an overlay whiteout: a 0/0 char device.
func isWhiteout(st fileStat) bool {
	return st.kind == kindChar && st.major == 0 && st.minor == 0
}

// writeEntry writes the header (and content) of the file at rel under the
// tar name out.
func (lw *layerWriter) writeEntry(rel, out string, st fileStat) error {
	p := lw.path(rel)
	hdr := &tar.Header{
		Name:    out,
		Mode:    st.perm,
		Uid:     st.uid,
		Gid:     st.gid,
		ModTime: st.mtime.Truncate(time.Second),
	}
	if lw.epoch != nil && hdr.ModTime.After(*lw.epoch) {
		hdr.ModTime = *lw.epoch
	}
	if isWhiteout(st) {
		// Whiteouts in overlay may share one inode (the kernel links them
		// to a single whiteout file), so never treat them as hard links.
		hdr.Typeflag = tar.TypeReg
		hdr.Mode = 0
		return lw.writeHeader(hdr)
	}

	var opaque bool
	names, err := listXattrs(p)
	if err != nil {
		return err
	}
	for _, name := range names {
		switch {
		case name == xattrCapability:
			v, err := getXattr(p, name)
			if err != nil {
				return err
			}
			if v != nil {
				hdr.PAXRecords = map[string]string{"SCHILY.xattr." + name: string(v)}
			}
		case strings.HasPrefix(name, overlayPrefix) || strings.HasPrefix(name, userOverlayPrefix):
			attr := name[strings.Index(name, "overlay.")+len("overlay."):]
			switch attr {
			case "opaque":
				v, err := getXattr(p, name)
				if err != nil {
					return err
				}
				opaque = string(v) == "y"
			case "redirect", "metacopy":
				// A renamed directory or a metadata-only copy-up refers to
				// data in a lower layer; an OCI diff cannot say that.
				return fmt.Errorf("xattr %s: %w", name, ErrOverlayFeature)
			}
		}
	}

	switch st.kind {
	case kindDir:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case kindReg:
		hdr.Typeflag = tar.TypeReg
		hdr.Size = st.size
	case kindSymlink:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
	case kindChar:
		hdr.Typeflag = tar.TypeChar
		hdr.Devmajor, hdr.Devminor = st.major, st.minor
	case kindBlock:
		hdr.Typeflag = tar.TypeBlock
		hdr.Devmajor, hdr.Devminor = st.major, st.minor
	case kindFifo:
		hdr.Typeflag = tar.TypeFifo
	case kindSocket:
		return nil // sockets cannot be archived and are meaningless in an image
	default:
		return ErrUnsupportedEntry
	}

	if st.kind != kindDir && st.nlink > 1 {
		id := fileID{st.dev, st.ino}
		if first, ok := lw.links[id]; ok {
			hdr.Typeflag = tar.TypeLink
			hdr.Linkname = first
			hdr.Size = 0
			return lw.writeHeader(hdr)
		}
		lw.links[id] = out
	}

	if err := lw.writeHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
		if err := lw.copyFile(p, hdr.Size); err != nil {
			return err
		}
	}
	if opaque {
		return lw.writeHeader(&tar.Header{
			Typeflag: tar.TypeReg,
			Name:     out + "/" + whiteoutOpaque,
			ModTime:  hdr.ModTime,
		})
	}
	return nil
}

func (lw *layerWriter) writeHeader(hdr *tar.Header) error {
	if err := lw.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	lw.entries++
	return nil
}

// copyFile copies exactly size bytes of the file at p: a file that changed
// size since it was stat'ed is an error, not a corrupt tar.
func (lw *layerWriter) copyFile(p string, size int64) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(lw.tw, io.LimitReader(f, size))
	if err != nil {
		return fmt.Errorf("copy content: %w", err)
	}
	if n != size {
		return fmt.Errorf("copy content: file shrank from %d to %d bytes", size, n)
	}
	return nil
}
