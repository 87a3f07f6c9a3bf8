package exporter

import (
	"io"

	digest "github.com/opencontainers/go-digest"
)

// BlobStore is what the exporter needs of a content store
// (*cache.Store implements it).
type BlobStore interface {
	// PutBlob stores the content of r and returns its digest and size.
	PutBlob(r io.Reader) (digest.Digest, int64, error)
	// ReadBlob returns the verified content of a blob.
	ReadBlob(d digest.Digest) ([]byte, error)
	// OpenBlob opens a blob for streaming; the reader verifies the digest
	// at EOF.
	OpenBlob(d digest.Digest) (io.ReadCloser, error)
}
