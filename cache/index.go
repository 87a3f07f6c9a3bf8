package cache

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Image is one tag of the store.
type Image struct {
	Name     string             // the normalized reference
	Manifest ocispec.Descriptor // the manifest it points to
}

func (s *Store) indexPath() string { return filepath.Join(s.root, "oci", "index.json") }

// initLayout writes oci-layout and an empty index.json if they are missing.
func (s *Store) initLayout() error {
	p := filepath.Join(s.root, "oci", ocispec.ImageLayoutFile)
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		b, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
		if err := s.writeFileAtomic(p, b, 0o644); err != nil {
			return fmt.Errorf("write oci-layout: %w", err)
		}
	}
	if _, err := os.Lstat(s.indexPath()); err == nil {
		return nil
	}
	return s.updateIndex(func(*ocispec.Index) error { return nil })
}

// readIndex reads index.json; a missing one is empty. Writers replace the
// file atomically, so readers need no lock.
func (s *Store) readIndex() (ocispec.Index, error) {
	idx := ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
	}
	b, err := os.ReadFile(s.indexPath())
	if errors.Is(err, fs.ErrNotExist) {
		return idx, nil
	}
	if err != nil {
		return idx, fmt.Errorf("read index: %w", err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return idx, fmt.Errorf("read index: %w", err)
	}
	return idx, nil
}

// updateIndex does a read-modify-write of index.json under an exclusive
// flock on root/index.lock, so concurrent taggers in several processes never
// lose each other's entries.
func (s *Store) updateIndex(fn func(*ocispec.Index) error) error {
	lf, err := os.OpenFile(filepath.Join(s.root, "index.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("lock index: %w", err)
	}
	defer lf.Close() // releases the flock
	if err := flock(lf, true, true); err != nil {
		return fmt.Errorf("lock index: %w", err)
	}
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	if err := fn(&idx); err != nil {
		return err
	}
	if idx.Manifests == nil {
		idx.Manifests = []ocispec.Descriptor{} // "manifests": [] is required
	}
	// Sorted by name so that the file diffs cleanly and is reproducible.
	sort.SliceStable(idx.Manifests, func(i, j int) bool {
		return refName(idx.Manifests[i]) < refName(idx.Manifests[j])
	})
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	if err := s.writeFileAtomic(s.indexPath(), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	return nil
}

func refName(d ocispec.Descriptor) string { return d.Annotations[ocispec.AnnotationRefName] }

// Tag points ref at manifest, replacing any existing entry of that name.
func (s *Store) Tag(ref string, manifest ocispec.Descriptor) error {
	name, err := NormalizeRef(ref)
	if err != nil {
		return err
	}
	if err := manifest.Digest.Validate(); err != nil {
		return fmt.Errorf("tag %s: manifest digest: %w", name, err)
	}
	ann := make(map[string]string, len(manifest.Annotations)+1)
	for k, v := range manifest.Annotations {
		ann[k] = v
	}
	ann[ocispec.AnnotationRefName] = name
	manifest.Annotations = ann
	return s.updateIndex(func(idx *ocispec.Index) error {
		var moved []ocispec.Descriptor
		for _, d := range idx.Manifests {
			if refName(d) == name && d.Digest != manifest.Digest {
				moved = append(moved, d)
			}
		}
		idx.Manifests = removeName(idx.Manifests, name)
		// The image the name leaves stays findable by its ID, as Docker
		// keeps it as a dangling image, unless another entry holds it.
		for _, d := range moved {
			if !hasDigest(idx.Manifests, d.Digest) {
				d.Annotations = nil
				idx.Manifests = append(idx.Manifests, d)
			}
		}
		// A name makes an unnamed entry of the same image redundant.
		out := idx.Manifests[:0]
		for _, d := range idx.Manifests {
			if refName(d) != "" || d.Digest != manifest.Digest {
				out = append(out, d)
			}
		}
		idx.Manifests = append(out, manifest)
		return nil
	})
}

func hasDigest(ds []ocispec.Descriptor, d digest.Digest) bool {
	for _, x := range ds {
		if x.Digest == d {
			return true
		}
	}
	return false
}

// Untag removes ref from the index. The blobs stay until garbage collection.
func (s *Store) Untag(ref string) error {
	name, err := NormalizeRef(ref)
	if err != nil {
		return err
	}
	return s.updateIndex(func(idx *ocispec.Index) error {
		n := len(idx.Manifests)
		idx.Manifests = removeName(idx.Manifests, name)
		if len(idx.Manifests) == n {
			return fmt.Errorf("untag %q: %w", ref, ErrNotFound)
		}
		return nil
	})
}

func removeName(ds []ocispec.Descriptor, name string) []ocispec.Descriptor {
	out := ds[:0]
	for _, d := range ds {
		if refName(d) != name {
			out = append(out, d)
		}
	}
	return out
}

// Images returns one entry per tag, sorted by name.
func (s *Store) Images() ([]Image, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var out []Image
	for _, d := range idx.Manifests {
		if n := refName(d); n != "" {
			out = append(out, Image{Name: n, Manifest: d})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Resolve finds the manifest ref names. As with Docker, ref may be a name
// ("app" means "app:latest"), a manifest digest, or an image ID (the config
// digest), full or as a prefix of at least 4 hex digits. A name wins over an
// ID prefix that looks the same. Not found wraps ErrNotFound; a prefix that
// matches several images wraps ErrAmbiguous.
func (s *Store) Resolve(ref string) (ocispec.Descriptor, error) {
	idx, err := s.readIndex()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	imgs := idx.Manifests
	sort.SliceStable(imgs, func(i, j int) bool { return refName(imgs[i]) < refName(imgs[j]) })

	if d, err := digest.Parse(ref); err == nil {
		for _, m := range imgs {
			if m.Digest == d {
				return m, nil
			}
		}
		return s.resolveID(ref, imgs, func(c digest.Digest) bool { return c == d })
	}
	if name, err := NormalizeRef(ref); err == nil {
		for _, m := range imgs {
			if refName(m) == name {
				return m, nil
			}
		}
	}
	if isHexPrefix(ref) {
		return s.resolveID(ref, imgs, func(c digest.Digest) bool {
			return c.Algorithm() == digest.SHA256 && strings.HasPrefix(c.Encoded(), ref)
		})
	}
	return ocispec.Descriptor{}, fmt.Errorf("image %q: %w", ref, ErrNotFound)
}

// resolveID finds the image whose config digest satisfies match.
func (s *Store) resolveID(ref string, imgs []ocispec.Descriptor, match func(digest.Digest) bool) (ocispec.Descriptor, error) {
	var (
		found   ocispec.Descriptor
		foundID digest.Digest
	)
	for _, m := range imgs {
		if m.MediaType != "" && m.MediaType != ocispec.MediaTypeImageManifest &&
			m.MediaType != "application/vnd.docker.distribution.manifest.v2+json" {
			continue // an index has no single config
		}
		c, err := s.configOf(m.Digest)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				continue // tagged but its blob is gone; not this one
			}
			return ocispec.Descriptor{}, err
		}
		if !match(c) {
			continue
		}
		if foundID != "" && foundID != c {
			return ocispec.Descriptor{}, fmt.Errorf("image %q: %w", ref, ErrAmbiguous)
		}
		if foundID == "" {
			found, foundID = m, c
		}
	}
	if foundID == "" {
		return ocispec.Descriptor{}, fmt.Errorf("image %q: %w", ref, ErrNotFound)
	}
	return found, nil
}

// configOf returns the config digest of a manifest, cached: both are
// content-addressed, so the answer never changes.
func (s *Store) configOf(m digest.Digest) (digest.Digest, error) {
	if c, ok := s.configs.Load(m); ok {
		return c.(digest.Digest), nil
	}
	b, err := s.ReadBlob(m)
	if err != nil {
		return "", err
	}
	var man ocispec.Manifest
	if err := json.Unmarshal(b, &man); err != nil {
		return "", fmt.Errorf("manifest %s: %w", m, err)
	}
	s.configs.Store(m, man.Config.Digest)
	return man.Config.Digest, nil
}

// Keep records manifest in the index without a name, so an untagged build
// stays findable by its ID (Docker's dangling images). An image already in
// the index, named or not, is left as it is.
func (s *Store) Keep(manifest ocispec.Descriptor) error {
	if err := manifest.Digest.Validate(); err != nil {
		return fmt.Errorf("keep manifest: %w", err)
	}
	return s.updateIndex(func(idx *ocispec.Index) error {
		if hasDigest(idx.Manifests, manifest.Digest) {
			return nil
		}
		manifest.Annotations = nil
		idx.Manifests = append(idx.Manifests, manifest)
		return nil
	})
}

// Remove takes an image out of the index, as `docker rmi` does: a name
// removes that name; an ID or digest removes the image's only name (or its
// unnamed entry) and refuses when several names share it. It returns the
// names removed. The blobs stay until garbage collection.
func (s *Store) Remove(ref string) ([]string, error) {
	desc, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	if name, err := NormalizeRef(ref); err == nil && refName(desc) == name {
		return []string{name}, s.Untag(name)
	}
	var removed []string
	err = s.updateIndex(func(idx *ocispec.Index) error {
		var names []string
		for _, d := range idx.Manifests {
			if d.Digest == desc.Digest && refName(d) != "" {
				names = append(names, refName(d))
			}
		}
		if len(names) > 1 {
			return fmt.Errorf("image %q is named %s: remove the names one by one: %w", ref, strings.Join(names, ", "), ErrAmbiguous)
		}
		out := idx.Manifests[:0]
		for _, d := range idx.Manifests {
			if d.Digest == desc.Digest {
				removed = append(removed, cmp.Or(refName(d), d.Digest.String()))
				continue
			}
			out = append(out, d)
		}
		idx.Manifests = out
		return nil
	})
	return removed, err
}
