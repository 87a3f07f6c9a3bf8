package exporter

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// NamedImage is an image to export: its manifest in the store and the
// names (normalized references) it goes by, if any.
type NamedImage struct {
	Manifest digest.Digest
	Names    []string
}

// ArchiveOptions configure WriteOCI and WriteDockerArchive.
type ArchiveOptions struct {
	// Compression of the layers written; "" keeps each layer as stored.
	// Layers stored otherwise are decompressed and compressed again, which
	// changes the manifest digest but never the image ID (diff IDs are of
	// the uncompressed tar).
	Compression Compression
	Level       int // compression level; 0 is the compression's default
	// TempDir is where re-encoded layers are spooled until their size and
	// digest are known; "" is os.TempDir(). Use the store's session dir.
	TempDir string
	// ModTime is the mtime of the archive's own entries (blobs, index);
	// zero is the Unix epoch, so that archives of equal images are equal.
	ModTime time.Time
}

// containerd's annotation for an image's full name; BuildKit and Docker
// write it next to org.opencontainers.image.ref.name (which holds the tag).
const annotationImageName = "io.containerd.image.name"

// exported is an image ready to be written: its (possibly rewritten)
// manifest, config and layers.
type exported struct {
	names    []string
	manifest ocispec.Descriptor
	config   ocispec.Descriptor
	layers   []ocispec.Descriptor
}

// blob is one file of an archive: JSON in memory, a spooled re-encoded
// layer, or a blob of the store.
type blob struct {
	desc ocispec.Descriptor
	data []byte
	path string
}

type plan struct {
	bs     BlobStore
	images []exported
	blobs  []blob // unique, in the order they are first needed
	seen   map[digest.Digest]bool
	spool  string // temp dir of re-encoded layers, removed by close
}

func (p *plan) close() {
	if p.spool != "" {
		os.RemoveAll(p.spool)
	}
}

func (p *plan) add(b blob) {
	if !p.seen[b.desc.Digest] {
		p.seen[b.desc.Digest] = true
		p.blobs = append(p.blobs, b)
	}
}

func (p *plan) open(b blob) (io.ReadCloser, error) {
	switch {
	case b.data != nil:
		return io.NopCloser(bytes.NewReader(b.data)), nil
	case b.path != "":
		return os.Open(b.path)
	}
	return p.bs.OpenBlob(b.desc.Digest)
}

// newPlan reads the images and re-encodes layers as opt asks.
func newPlan(ctx context.Context, bs BlobStore, imgs []NamedImage, opt ArchiveOptions) (*plan, error) {
	p := &plan{bs: bs, seen: map[digest.Digest]bool{}}
	recoded := map[digest.Digest]ocispec.Descriptor{}
	for _, im := range imgs {
		m, _, err := ReadImage(ctx, bs, im.Manifest)
		if err != nil {
			p.close()
			return nil, err
		}
		changed := false
		layers := make([]ocispec.Descriptor, len(m.Layers))
		for i, l := range m.Layers {
			have, ok := compressionOf(l.MediaType)
			if !ok {
				p.close()
				return nil, fmt.Errorf("image %s: layer %s: media type %q: %w", im.Manifest, l.Digest, l.MediaType, ErrInvalidImage)
			}
			if opt.Compression == "" || opt.Compression == have && opt.Level == 0 {
				layers[i] = l
				p.add(blob{desc: l})
				continue
			}
			d, ok := recoded[l.Digest]
			if !ok {
				if p.spool == "" {
					if p.spool, err = os.MkdirTemp(opt.TempDir, "export-"); err != nil {
						return nil, fmt.Errorf("export: %w", err)
					}
				}
				d, err = p.recode(ctx, l, opt)
				if err != nil {
					p.close()
					return nil, err
				}
				recoded[l.Digest] = d
			}
			layers[i] = d
			p.add(blob{desc: d, path: filepath.Join(p.spool, d.Digest.Encoded())})
			changed = changed || d.Digest != l.Digest
		}
		p.add(blob{desc: m.Config})
		e := exported{names: im.Names, config: m.Config, layers: layers}
		if changed {
			m.MediaType = ocispec.MediaTypeImageManifest
			m.Layers = layers
			b, err := json.Marshal(m)
			if err != nil {
				p.close()
				return nil, err
			}
			e.manifest = ocispec.Descriptor{MediaType: m.MediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
			p.add(blob{desc: e.manifest, data: b})
		} else {
			mb, err := bs.ReadBlob(im.Manifest)
			if err != nil {
				p.close()
				return nil, err
			}
			mt := m.MediaType
			if mt == "" {
				mt = ocispec.MediaTypeImageManifest
			}
			e.manifest = ocispec.Descriptor{MediaType: mt, Digest: im.Manifest, Size: int64(len(mb))}
			p.add(blob{desc: e.manifest})
		}
		p.images = append(p.images, e)
	}
	return p, nil
}

// recode decompresses the stored layer l and compresses it as opt asks
// into the spool directory, checking on the way that it still matches.
func (p *plan) recode(ctx context.Context, l ocispec.Descriptor, opt ArchiveOptions) (ocispec.Descriptor, error) {
	fail := func(err error) (ocispec.Descriptor, error) {
		return ocispec.Descriptor{}, fmt.Errorf("re-encode layer %s as %s: %w", l.Digest, opt.Compression, err)
	}
	rc, err := p.bs.OpenBlob(l.Digest)
	if err != nil {
		return fail(err)
	}
	defer rc.Close()
	rd, err := decompress(rc)
	if err != nil {
		return fail(err)
	}
	defer rd.Close()
	f, err := os.CreateTemp(p.spool, "layer-")
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	dg := digest.SHA256.Digester()
	cw := &countWriter{w: io.MultiWriter(f, dg.Hash())}
	zw, err := NewCompressor(cw, opt.Compression, opt.Level)
	if err != nil {
		os.Remove(f.Name())
		return fail(err)
	}
	if _, err := io.Copy(zw, withContext(ctx, rd)); err != nil {
		os.Remove(f.Name())
		return fail(err)
	}
	if err := zw.Close(); err != nil {
		os.Remove(f.Name())
		return fail(err)
	}
	d := ocispec.Descriptor{MediaType: opt.Compression.MediaType(), Digest: dg.Digest(), Size: cw.n}
	if err := os.Rename(f.Name(), filepath.Join(p.spool, d.Digest.Encoded())); err != nil {
		return fail(err)
	}
	return d, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// withContext makes a long copy stop when ctx is done.
func withContext(ctx context.Context, r io.Reader) io.Reader {
	return readerFunc(func(b []byte) (int, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return r.Read(b)
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(b []byte) (int, error) { return f(b) }

// sink receives the files of an archive: a tar stream or a directory.
type sink interface {
	put(name string, size int64, r io.Reader) error
	has(name string) bool
}

type tarSink struct {
	tw    *tar.Writer
	mtime time.Time
	dirs  map[string]bool
}

func (s *tarSink) has(string) bool { return false }

func (s *tarSink) put(name string, size int64, r io.Reader) error {
	// Parent directories first, as docker save and skopeo write them.
	var parents []string
	for d := path.Dir(name); d != "." && !s.dirs[d]; d = path.Dir(d) {
		parents = append(parents, d)
	}
	for i := len(parents) - 1; i >= 0; i-- {
		s.dirs[parents[i]] = true
		if err := s.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: parents[i] + "/", Mode: 0o755, ModTime: s.mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	if err := s.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size, ModTime: s.mtime, Format: tar.FormatPAX}); err != nil {
		return err
	}
	n, err := io.Copy(s.tw, r)
	if err == nil && n != size {
		err = fmt.Errorf("%s: got %d bytes, want %d", name, n, size)
	}
	return err
}

type dirSink struct{ dir string }

func (s dirSink) has(name string) bool {
	fi, err := os.Lstat(filepath.Join(s.dir, filepath.FromSlash(name)))
	return err == nil && fi.Mode().IsRegular()
}

func (s dirSink) put(name string, size int64, r io.Reader) error {
	p := filepath.Join(s.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-")
	if err != nil {
		return err
	}
	n, err := io.Copy(f, r)
	if err == nil && n != size {
		err = fmt.Errorf("%s: got %d bytes, want %d", name, n, size)
	}
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

func blobName(d digest.Digest) string {
	return "blobs/" + d.Algorithm().String() + "/" + d.Encoded()
}

// write puts the plan's blobs, then the layout's oci-layout and index.json.
func (p *plan) write(ctx context.Context, s sink) error {
	for _, b := range p.blobs {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := blobName(b.desc.Digest)
		if s.has(name) {
			continue
		}
		rc, err := p.open(b)
		if err != nil {
			return err
		}
		err = s.put(name, b.desc.Size, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	layout, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err := s.put(ocispec.ImageLayoutFile, int64(len(layout)), bytes.NewReader(layout)); err != nil {
		return err
	}
	idx := ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{},
	}
	for _, e := range p.images {
		if len(e.names) == 0 {
			idx.Manifests = append(idx.Manifests, e.manifest)
		}
		for _, n := range e.names {
			d := e.manifest
			d.Annotations = map[string]string{annotationImageName: n}
			if tag := tagOf(n); tag != "" {
				d.Annotations[ocispec.AnnotationRefName] = tag
			}
			idx.Manifests = append(idx.Manifests, d)
		}
	}
	ib, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return s.put(ocispec.ImageIndexFile, int64(len(ib)), bytes.NewReader(ib))
}

// tagOf returns the tag of a normalized reference ("" for a digest one).
func tagOf(ref string) string {
	if strings.Contains(ref, "@") {
		return ""
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[i+1:]
	}
	return ""
}

// WriteOCI writes imgs as an OCI image layout: a tar stream to w, or, if w
// is nil, the directory dir (blobs already there are kept). In the index
// each name is an entry whose org.opencontainers.image.ref.name is the tag,
// as skopeo and umoci look it up, and io.containerd.image.name the full
// name, as BuildKit writes it.
func WriteOCI(ctx context.Context, bs BlobStore, w io.Writer, dir string, imgs []NamedImage, opt ArchiveOptions) error {
	p, err := newPlan(ctx, bs, imgs, opt)
	if err != nil {
		return fmt.Errorf("write oci: %w", err)
	}
	defer p.close()
	if w == nil {
		if err := p.write(ctx, dirSink{dir}); err != nil {
			return fmt.Errorf("write oci layout %s: %w", dir, err)
		}
		return nil
	}
	tw := tar.NewWriter(w)
	if err := p.write(ctx, &tarSink{tw: tw, mtime: archiveTime(opt), dirs: map[string]bool{}}); err != nil {
		return fmt.Errorf("write oci archive: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write oci archive: %w", err)
	}
	return nil
}

func archiveTime(opt ArchiveOptions) time.Time {
	if opt.ModTime.IsZero() {
		return time.Unix(0, 0)
	}
	return opt.ModTime
}

// dockerManifest is an entry of a docker-archive's manifest.json.
type dockerManifest struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

// WriteDockerArchive writes imgs as `docker save` (Docker 25 and later)
// does: an OCI layout with uncompressed layers, plus the manifest.json that
// every version of `docker load` reads. Layers are decompressed (unless
// opt asks otherwise; docker load accepts gzip too), so the archive's
// layer digests are the diff IDs and the image IDs are unchanged.
func WriteDockerArchive(ctx context.Context, bs BlobStore, w io.Writer, imgs []NamedImage, opt ArchiveOptions) error {
	if opt.Compression == "" {
		opt.Compression = Uncompressed
	}
	p, err := newPlan(ctx, bs, imgs, opt)
	if err != nil {
		return fmt.Errorf("write docker archive: %w", err)
	}
	defer p.close()
	tw := tar.NewWriter(w)
	s := &tarSink{tw: tw, mtime: archiveTime(opt), dirs: map[string]bool{}}
	if err := p.write(ctx, s); err != nil {
		return fmt.Errorf("write docker archive: %w", err)
	}
	var ms []dockerManifest
	for _, e := range p.images {
		dm := dockerManifest{Config: blobName(e.config.Digest), RepoTags: []string{}}
		for _, n := range e.names {
			if tagOf(n) != "" {
				dm.RepoTags = append(dm.RepoTags, n)
			}
		}
		for _, l := range e.layers {
			dm.Layers = append(dm.Layers, blobName(l.Digest))
		}
		ms = append(ms, dm)
	}
	b, err := json.Marshal(ms)
	if err != nil {
		return fmt.Errorf("write docker archive: %w", err)
	}
	if err := s.put("manifest.json", int64(len(b)), bytes.NewReader(b)); err != nil {
		return fmt.Errorf("write docker archive: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write docker archive: %w", err)
	}
	return nil
}
