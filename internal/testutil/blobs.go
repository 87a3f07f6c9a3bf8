package testutil

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"

	digest "github.com/opencontainers/go-digest"
)

// Blobs is an in-memory content store with the blob methods of the real
// one (exporter.BlobStore), for tests that need no disk.
type Blobs struct {
	mu    sync.Mutex
	blobs map[digest.Digest][]byte
}

// NewBlobs returns an empty store.
func NewBlobs() *Blobs { return &Blobs{blobs: map[digest.Digest][]byte{}} }

// PutBlob stores what r yields under its digest.
func (s *Blobs) PutBlob(r io.Reader) (digest.Digest, int64, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return "", 0, err
	}
	d := digest.FromBytes(b)
	s.mu.Lock()
	s.blobs[d] = b
	s.mu.Unlock()
	return d, int64(len(b)), nil
}

// ReadBlob returns the blob d; a missing one wraps os.ErrNotExist.
func (s *Blobs) ReadBlob(d digest.Digest) ([]byte, error) {
	s.mu.Lock()
	b, ok := s.blobs[d]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", d, os.ErrNotExist)
	}
	return b, nil
}

// OpenBlob returns a reader of the blob d.
func (s *Blobs) OpenBlob(d digest.Digest) (io.ReadCloser, error) {
	b, err := s.ReadBlob(d)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}
