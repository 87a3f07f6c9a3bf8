package exporter

import (
	"archive/tar"
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	digest "github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/internal/compression"
)

// sniff returns the compression of a stream from its magic bytes and a
// reader that still yields the whole stream.
func sniff(r io.Reader) (Compression, io.Reader) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(8)
	switch compression.Detect(magic) {
	case "gzip":
		return Gzip, br
	case "zstd":
		return Zstd, br
	}
	return Uncompressed, br
}

// CheckLayer reads a layer blob (gzip, zstd or uncompressed) from r,
// refuses what ExtractLayer would refuse later, and more, and returns the
// diff ID (the digest of the uncompressed tar) and the compression found.
//
// Loaded and imported layers are extracted lazily, at first use, so a
// hostile layer must be caught here, before it is tagged: names that are
// absolute or climb out with "..", entries written through a symlink of
// the same layer (the classic symlink-then-write), hard links whose target
// is not an earlier non-directory entry of the layer, entry types kiln does
// not extract, and device nodes when this process could not create them.
func CheckLayer(ctx context.Context, r io.Reader) (digest.Digest, Compression, error) {
	comp, br := sniff(r)
	rd, err := decompress(br)
	if err != nil {
		return "", comp, fmt.Errorf("check layer: %w", err)
	}
	defer rd.Close()
	dg := digest.SHA256.Digester()
	tr := tar.NewReader(io.TeeReader(rd, dg.Hash()))
	c := layerChecker{
		symlinks: map[string]bool{},
		files:    map[string]bool{},
		canMknod: os.Geteuid() == 0,
	}
	for {
		if err := ctx.Err(); err != nil {
			return "", comp, fmt.Errorf("check layer: %w", err)
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", comp, fmt.Errorf("check layer: read tar: %w", err)
		}
		if err := c.check(hdr); err != nil {
			return "", comp, fmt.Errorf("check layer: %q: %w", hdr.Name, err)
		}
	}
	// The tar's end-of-archive padding is part of the diff ID, and reading
	// to the end verifies the gzip checksum.
	if _, err := io.Copy(dg.Hash(), rd); err != nil {
		return "", comp, fmt.Errorf("check layer: read tar: %w", err)
	}
	return dg.Digest(), comp, nil
}

type layerChecker struct {
	symlinks map[string]bool // cleaned names that are symlinks in this layer
	files    map[string]bool // cleaned names of non-directories, link targets
	canMknod bool
}

func (c *layerChecker) check(hdr *tar.Header) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "" {
		return nil
	}
	if err := c.throughSymlink(name); err != nil {
		return err
	}
	delete(c.symlinks, name)
	delete(c.files, name)
	switch hdr.Typeflag {
	case tar.TypeDir:
	case tar.TypeReg, tar.TypeFifo:
		c.files[name] = true
	case tar.TypeSymlink:
		c.symlinks[name] = true
		c.files[name] = true
	case tar.TypeLink:
		target, err := cleanName(hdr.Linkname)
		if err != nil || target == "" {
			return fmt.Errorf("hard link to %q: %w", hdr.Linkname, ErrUnsafeLink)
		}
		if err := c.throughSymlink(target); err != nil {
			return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
		}
		if !c.files[target] {
			return fmt.Errorf("hard link to %q, which is not an earlier file of the layer: %w", hdr.Linkname, ErrUnsafeLink)
		}
		c.files[name] = true
	case tar.TypeChar, tar.TypeBlock:
		if !c.canMknod {
			return fmt.Errorf("device %d:%d: %w", hdr.Devmajor, hdr.Devminor, ErrDevice)
		}
		c.files[name] = true
	default:
		return fmt.Errorf("type %q: %w", hdr.Typeflag, ErrUnsupportedEntry)
	}
	return nil
}

// throughSymlink refuses a name one of whose parents is a symlink written
// earlier in this layer. Extraction would resolve it inside the root, but
// no honest archiver writes such a tar, and what it does is never what the
// name says.
func (c *layerChecker) throughSymlink(name string) error {
	for i := strings.IndexByte(name, '/'); i >= 0; {
		if c.symlinks[name[:i]] {
			return fmt.Errorf("written through symlink %q: %w", name[:i], ErrUnsafeLink)
		}
		j := strings.IndexByte(name[i+1:], '/')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return nil
}
