package exporter

import (
	"bytes"
	"io"

	"github.com/kiln-build/kiln/internal/testutil"
)

// memStore is an in-memory BlobStore.
type memStore = testutil.Blobs

func newMemStore() *memStore { return testutil.NewBlobs() }

var _ BlobStore = (*memStore)(nil)

func stringsReader(s string) io.Reader { return bytes.NewReader([]byte(s)) }
