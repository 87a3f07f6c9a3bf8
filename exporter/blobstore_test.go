package exporter

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	digest "github.com/opencontainers/go-digest"
)

// memStore is an in-memory BlobStore.
type memStore struct {
	mu    sync.Mutex
	blobs map[digest.Digest][]byte
}

func newMemStore() *memStore { return &memStore{blobs: make(map[digest.Digest][]byte)} }

func (s *memStore) PutBlob(r io.Reader) (digest.Digest, int64, error) {
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

func (s *memStore) ReadBlob(d digest.Digest) ([]byte, error) {
	s.mu.Lock()
	b, ok := s.blobs[d]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("blob %s: not found", d)
	}
	return b, nil
}

func (s *memStore) OpenBlob(d digest.Digest) (io.ReadCloser, error) {
	b, err := s.ReadBlob(d)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

var _ BlobStore = (*memStore)(nil)

func stringsReader(s string) io.Reader { return bytes.NewReader([]byte(s)) }
