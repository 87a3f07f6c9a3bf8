package exporter

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"strings"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Loaded is an image Load put into the store: the manifest to tag, and the
// names the archive gave it (as written there, not normalized).
type Loaded struct {
	Manifest ocispec.Descriptor
	Names    []string
}

// maxJSON bounds manifests, configs and indexes read from an archive.
const maxJSON = 16 << 20

// LoadArchive reads an image archive from r — a docker-archive (`docker
// save`, any version) or an OCI image layout as a tar, either possibly
// gzip-compressed — into bs. The archive is unpacked into tmpDir (which
// the caller removes; use the store's session dir) and then read as
// LoadDir reads a layout directory.
func LoadArchive(ctx context.Context, bs BlobStore, r io.Reader, tmpDir string) ([]Loaded, error) {
	if err := unpackArchive(ctx, r, tmpDir); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	return LoadDir(ctx, bs, tmpDir)
}

// unpackArchive writes the regular files, directories and symlinks of the
// archive under dir. Only names are trusted to the extractor's checks;
// everything read back goes through an os.Root, so a symlink can never lead
// outside dir.
func unpackArchive(ctx context.Context, r io.Reader, dir string) error {
	rd, err := decompress(r)
	if err != nil {
		return err
	}
	defer rd.Close()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(rd)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive: %w: %w", ErrInvalidArchive, err)
		}
		name, err := cleanName(hdr.Name)
		if err != nil {
			return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
		}
		if name == "" {
			continue
		}
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
		case tar.TypeReg:
			_ = root.Remove(name)
			f, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
		case tar.TypeSymlink:
			// Old docker-archives link duplicate layers to one another.
			_ = root.Remove(name)
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
		case tar.TypeXGlobalHeader:
		default:
			return fmt.Errorf("archive entry %q: type %q: %w", hdr.Name, hdr.Typeflag, ErrUnsupportedEntry)
		}
	}
}

// LoadDir reads an OCI image layout directory, or an unpacked
// docker-archive, into bs. Every blob is checked against its digest, every
// layer against its config's diff ID and with CheckLayer; a blob is put in
// bs only once it has passed, and an image's manifest only after its
// config and layers, so a failed load leaves no image behind (blobs of
// images that passed stay, untagged, until garbage collection).
//
// For an index with several platforms, the manifest of this machine's
// platform is loaded.
func LoadDir(ctx context.Context, bs BlobStore, dir string) ([]Loaded, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer root.Close()
	l := &loader{bs: bs, root: root}
	var out []Loaded
	if _, err := root.Stat("manifest.json"); err == nil {
		out, err = l.docker(ctx)
		if err != nil {
			return nil, fmt.Errorf("load docker-archive: %w", err)
		}
		return out, nil
	}
	if _, err := root.Stat(ocispec.ImageIndexFile); err == nil {
		out, err = l.oci(ctx)
		if err != nil {
			return nil, fmt.Errorf("load oci layout: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("load: no manifest.json (docker-archive) or index.json (OCI layout): %w", ErrInvalidArchive)
}

type loader struct {
	bs   BlobStore
	root *os.Root
	done map[digest.Digest]bool
}

func (l *loader) readFile(name string) ([]byte, error) {
	f, err := l.root.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w: %w", name, ErrInvalidArchive, err)
		}
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxJSON+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > maxJSON {
		return nil, fmt.Errorf("%s: larger than %d bytes: %w", name, maxJSON, ErrInvalidArchive)
	}
	return b, nil
}

// readBlob reads a small blob of the layout and checks its digest and size.
func (l *loader) readBlob(d ocispec.Descriptor) ([]byte, error) {
	if err := d.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("digest %q: %w: %w", d.Digest, ErrInvalidArchive, err)
	}
	b, err := l.readFile(blobName(d.Digest))
	if err != nil {
		return nil, err
	}
	if got := d.Digest.Algorithm().FromBytes(b); got != d.Digest {
		return nil, fmt.Errorf("blob %s: content is %s: %w", d.Digest, got, ErrDigestMismatch)
	}
	if d.Size != 0 && int64(len(b)) != d.Size {
		return nil, fmt.Errorf("blob %s: %d bytes, descriptor says %d: %w", d.Digest, len(b), d.Size, ErrDigestMismatch)
	}
	return b, nil
}

// putBytes stores bytes already verified to be want.
func (l *loader) putBytes(b []byte, want digest.Digest) error {
	d, _, err := l.bs.PutBlob(strings.NewReader(string(b)))
	if err != nil {
		return err
	}
	if d != want {
		return fmt.Errorf("store returned %s, want %s", d, want)
	}
	return nil
}

// putLayer streams the layer file name into the store while CheckLayer
// reads it. The store sees EOF only once the blob digest (if wantBlob is
// set) and the diff ID have matched; otherwise the put fails and nothing
// is stored.
func (l *loader) putLayer(ctx context.Context, name string, wantBlob, wantDiff digest.Digest) (ocispec.Descriptor, error) {
	f, err := l.root.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return ocispec.Descriptor{}, fmt.Errorf("layer %s: %w: %w", name, ErrInvalidArchive, err)
		}
		return ocispec.Descriptor{}, fmt.Errorf("layer %s: %w", name, err)
	}
	defer f.Close()
	var comp Compression
	d, n, err := putStream(l.bs, func(w io.Writer) error {
		dg := digest.SHA256.Digester()
		tee := io.TeeReader(f, io.MultiWriter(w, dg.Hash()))
		diffID, c, err := CheckLayer(ctx, tee)
		if err != nil {
			return err
		}
		comp = c
		if _, err := io.Copy(io.Discard, tee); err != nil {
			return err
		}
		if wantBlob != "" && dg.Digest() != wantBlob {
			return fmt.Errorf("blob %s: content is %s: %w", wantBlob, dg.Digest(), ErrDigestMismatch)
		}
		if diffID != wantDiff {
			return fmt.Errorf("diff ID is %s, config says %s: %w", diffID, wantDiff, ErrDigestMismatch)
		}
		return nil
	})
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("layer %s: %w", name, err)
	}
	return ocispec.Descriptor{MediaType: comp.MediaType(), Digest: d, Size: n}, nil
}

func (l *loader) docker(ctx context.Context) ([]Loaded, error) {
	b, err := l.readFile("manifest.json")
	if err != nil {
		return nil, err
	}
	var ms []dockerManifest
	if err := json.Unmarshal(b, &ms); err != nil {
		return nil, fmt.Errorf("manifest.json: %w: %w", ErrInvalidArchive, err)
	}
	var out []Loaded
	for _, dm := range ms {
		cb, err := l.readFile(dm.Config)
		if err != nil {
			return nil, err
		}
		cd := digest.FromBytes(cb)
		if want, ok := nameDigest(dm.Config); ok && want != cd {
			return nil, fmt.Errorf("config %s: content is %s: %w", dm.Config, cd, ErrDigestMismatch)
		}
		var img ocispec.Image
		if err := json.Unmarshal(cb, &img); err != nil {
			return nil, fmt.Errorf("config %s: %w: %w", dm.Config, ErrInvalidArchive, err)
		}
		if len(img.RootFS.DiffIDs) != len(dm.Layers) {
			return nil, fmt.Errorf("config %s: %d diff IDs for %d layers: %w", dm.Config, len(img.RootFS.DiffIDs), len(dm.Layers), ErrInvalidArchive)
		}
		layers := make([]ocispec.Descriptor, len(dm.Layers))
		for i, name := range dm.Layers {
			want, _ := nameDigest(name)
			if layers[i], err = l.putLayer(ctx, name, want, img.RootFS.DiffIDs[i]); err != nil {
				return nil, err
			}
		}
		if err := l.putBytes(cb, cd); err != nil {
			return nil, err
		}
		m := ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2},
			MediaType: ocispec.MediaTypeImageManifest,
			Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cd, Size: int64(len(cb))},
			Layers:    layers,
		}
		desc, err := putJSON(l.bs, ocispec.MediaTypeImageManifest, m)
		if err != nil {
			return nil, err
		}
		desc.Platform = &ocispec.Platform{OS: img.OS, Architecture: img.Architecture, Variant: img.Variant}
		out = append(out, Loaded{Manifest: desc, Names: dm.RepoTags})
	}
	return out, nil
}

// nameDigest returns the digest a docker-archive path spells:
// blobs/sha256/<hex> (Docker 25+) or <hex>.json (older configs).
func nameDigest(name string) (digest.Digest, bool) {
	c := path.Clean(name)
	if strings.HasPrefix(c, "blobs/") {
		parts := strings.Split(c, "/")
		if len(parts) == 3 {
			d := digest.NewDigestFromEncoded(digest.Algorithm(parts[1]), parts[2])
			return d, d.Validate() == nil
		}
	}
	if hex, ok := strings.CutSuffix(c, ".json"); ok && !strings.Contains(hex, "/") {
		d := digest.NewDigestFromEncoded(digest.SHA256, hex)
		return d, d.Validate() == nil
	}
	return "", false
}

func (l *loader) oci(ctx context.Context) ([]Loaded, error) {
	b, err := l.readFile(ocispec.ImageIndexFile)
	if err != nil {
		return nil, err
	}
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("index.json: %w: %w", ErrInvalidArchive, err)
	}
	l.done = map[digest.Digest]bool{}
	var out []Loaded
	for _, d := range idx.Manifests {
		m, err := l.ociManifest(ctx, d, 0)
		if err != nil {
			return nil, err
		}
		ld := Loaded{Manifest: m}
		if n := d.Annotations[annotationImageName]; n != "" {
			ld.Names = []string{n}
		} else if n := d.Annotations[ocispec.AnnotationRefName]; strings.ContainsAny(n, ":/@") {
			// A bare tag ("latest") names nothing on its own.
			ld.Names = []string{n}
		}
		out = append(out, ld)
	}
	return out, nil
}

// ociManifest loads the manifest d (for an index, its manifest for this
// platform) and returns its descriptor.
func (l *loader) ociManifest(ctx context.Context, d ocispec.Descriptor, depth int) (ocispec.Descriptor, error) {
	if depth > 4 {
		return ocispec.Descriptor{}, fmt.Errorf("indexes nested too deep: %w", ErrInvalidArchive)
	}
	b, err := l.readBlob(d)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	switch d.MediaType {
	case ocispec.MediaTypeImageIndex, mediaTypeDockerManifestList:
		var idx ocispec.Index
		if err := json.Unmarshal(b, &idx); err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("index %s: %w: %w", d.Digest, ErrInvalidArchive, err)
		}
		m, ok := SelectPlatform(idx.Manifests)
		if !ok {
			return ocispec.Descriptor{}, fmt.Errorf("index %s: no manifest for %s/%s: %w", d.Digest, runtime.GOOS, runtime.GOARCH, ErrInvalidArchive)
		}
		return l.ociManifest(ctx, m, depth+1)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("manifest %s: %w: %w", d.Digest, ErrInvalidArchive, err)
	}
	if l.done[d.Digest] {
		return d, nil
	}
	cb, err := l.readBlob(m.Config)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("manifest %s: config: %w", d.Digest, err)
	}
	var img ocispec.Image
	if err := json.Unmarshal(cb, &img); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("config %s: %w: %w", m.Config.Digest, ErrInvalidArchive, err)
	}
	if len(img.RootFS.DiffIDs) != len(m.Layers) {
		return ocispec.Descriptor{}, fmt.Errorf("manifest %s: %d diff IDs for %d layers: %w", d.Digest, len(img.RootFS.DiffIDs), len(m.Layers), ErrInvalidArchive)
	}
	for i, ld := range m.Layers {
		if err := ld.Digest.Validate(); err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("manifest %s: layer digest %q: %w: %w", d.Digest, ld.Digest, ErrInvalidArchive, err)
		}
		got, err := l.putLayer(ctx, blobName(ld.Digest), ld.Digest, img.RootFS.DiffIDs[i])
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		if ld.Size != 0 && got.Size != ld.Size {
			return ocispec.Descriptor{}, fmt.Errorf("layer %s: %d bytes, manifest says %d: %w", ld.Digest, got.Size, ld.Size, ErrDigestMismatch)
		}
	}
	if err := l.putBytes(cb, m.Config.Digest); err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := l.putBytes(b, d.Digest); err != nil {
		return ocispec.Descriptor{}, err
	}
	l.done[d.Digest] = true
	out := ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: int64(len(b))}
	if out.MediaType == "" {
		out.MediaType = ocispec.MediaTypeImageManifest
	}
	out.Platform = &ocispec.Platform{OS: img.OS, Architecture: img.Architecture, Variant: img.Variant}
	return out, nil
}

// Docker's manifest list media type, the index of its v2 schema 2.
const mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"

// SelectPlatform picks the manifest of an index for this machine: linux and
// runtime.GOARCH, preferring one without a variant mismatch; an index
// entry with no platform at all is taken if nothing matches better.
func SelectPlatform(ms []ocispec.Descriptor) (ocispec.Descriptor, bool) {
	var fallback *ocispec.Descriptor
	for i, m := range ms {
		if m.Platform == nil {
			if fallback == nil {
				fallback = &ms[i]
			}
			continue
		}
		if m.Platform.OS == "linux" && m.Platform.Architecture == runtime.GOARCH {
			return m, true
		}
	}
	if fallback != nil {
		return *fallback, true
	}
	return ocispec.Descriptor{}, false
}
