package cache

import (
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Layer describes one extracted layer in the store. Its identity is its
// chain ID, so a layer shared by several images (or built twice) is stored
// once, under layers/<chain-id hex>/.
type Layer struct {
	ChainID digest.Digest      `json:"chainID"`
	DiffID  digest.Digest      `json:"diffID"` // digest of the uncompressed tar
	Blob    ocispec.Descriptor `json:"blob"`   // the compressed tar in oci/blobs
	// Empty is set for a layer with no entries (a RUN that changed nothing);
	// manifests leave it out and mark its history entry empty_layer.
	Empty bool `json:"empty,omitempty"`
	// Created is when the layer was first committed. History timestamps come
	// from here, so a rebuild from cache reproduces the image digest.
	Created time.Time `json:"created"`
}

// Record is the result of a build step, stored under its cache key: the
// layer chain of the filesystem it produced.
type Record struct {
	Layers []digest.Digest `json:"layers"` // chain IDs, bottom first
}

// ChainID returns the OCI chain ID of a layer with the given diff ID over a
// parent chain ("" for the bottom layer).
func ChainID(parent, diffID digest.Digest) digest.Digest {
	if parent == "" {
		return diffID
	}
	return digest.FromString(parent.String() + " " + diffID.String())
}
