package exporter

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
)

// ApplyLayer extracts a layer tar onto dir, a root filesystem assembled
// from the layers below, carrying out its whiteouts: ".wh.x" removes x,
// and ".wh..wh..opq" empties its directory of everything this layer did
// not write itself. The tar is untrusted, as for ExtractLayer.
func ApplyLayer(ctx context.Context, r io.Reader, dir string) error {
	root, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("apply layer: %w", err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("apply layer: %w", err)
	}
	x := &extractor{root: root, dirTimes: make(map[string]time.Time), apply: true, created: map[string]bool{}}
	if err := extract(ctx, r, x); err != nil {
		return fmt.Errorf("apply layer: %w", err)
	}
	return nil
}

func (x *extractor) applyWhiteout(parent, base string) error {
	if base == whiteoutOpaque {
		ents, err := os.ReadDir(parent)
		if err != nil {
			return err
		}
		for _, e := range ents {
			p := filepath.Join(parent, e.Name())
			if !x.created[p] {
				if err := os.RemoveAll(p); err != nil {
					return err
				}
			}
		}
		return nil
	}
	name := base[len(whiteoutPrefix):]
	if strings.HasPrefix(base, whiteoutMeta) {
		return nil
	}
	if name == "" || name == "." || name == ".." {
		return ErrUnsafePath
	}
	target := filepath.Join(parent, name)
	delete(x.dirTimes, target)
	return os.RemoveAll(target)
}

// WriteRootfs writes the root filesystem of the image with the given
// manifest into dir, layer by layer, whiteouts applied.
func WriteRootfs(ctx context.Context, bs BlobStore, manifest digest.Digest, dir string) error {
	m, _, err := ReadImage(ctx, bs, manifest)
	if err != nil {
		return err
	}
	for _, l := range m.Layers {
		rc, err := bs.OpenBlob(l.Digest)
		if err != nil {
			return fmt.Errorf("write rootfs: %w", err)
		}
		err = ApplyLayer(ctx, rc, dir)
		rc.Close()
		if err != nil {
			return fmt.Errorf("write rootfs: layer %s: %w", l.Digest, err)
		}
	}
	return nil
}

// WriteRootfsTar writes the root filesystem of the image as one
// uncompressed tar to w, assembling it in a directory under tmpDir first.
// The tar is written as layers are (sorted, numeric ids, no atime/ctime).
func WriteRootfsTar(ctx context.Context, bs BlobStore, manifest digest.Digest, w io.Writer, tmpDir string) error {
	dir, err := os.MkdirTemp(tmpDir, "rootfs-")
	if err != nil {
		return fmt.Errorf("write rootfs tar: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := WriteRootfs(ctx, bs, manifest, dir); err != nil {
		return err
	}
	lw := &layerWriter{ctx: ctx, root: dir, tw: tar.NewWriter(w), links: make(map[fileID]string)}
	if err := lw.walk(""); err != nil {
		return fmt.Errorf("write rootfs tar: %w", err)
	}
	if err := lw.tw.Close(); err != nil {
		return fmt.Errorf("write rootfs tar: %w", err)
	}
	return nil
}
