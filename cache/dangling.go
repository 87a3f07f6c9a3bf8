package cache

import (
	"sort"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Dangling returns the images of the index that have no name (Docker's
// dangling images: untagged builds, images a tag moved away from, loads
// of archives without names), sorted by digest.
func (s *Store) Dangling() ([]ocispec.Descriptor, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var out []ocispec.Descriptor
	for _, d := range idx.Manifests {
		if refName(d) == "" && !hasNamed(idx.Manifests, d) {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Digest < out[j].Digest })
	return out, nil
}

func hasNamed(ds []ocispec.Descriptor, d ocispec.Descriptor) bool {
	for _, x := range ds {
		if x.Digest == d.Digest && refName(x) != "" {
			return true
		}
	}
	return false
}
