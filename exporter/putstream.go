package exporter

import (
	"errors"
	"io"

	digest "github.com/opencontainers/go-digest"
)

// putStream stores in bs what produce writes, streaming through a pipe
// with no temporary copy. The store sees EOF only if produce succeeds;
// if produce fails (a check refused the content, a digest did not match),
// the store's read fails with that error and nothing is stored.
func putStream(bs BlobStore, produce func(w io.Writer) error) (digest.Digest, int64, error) {
	pr, pw := io.Pipe()
	type put struct {
		d   digest.Digest
		n   int64
		err error
	}
	done := make(chan put, 1)
	go func() {
		d, n, err := bs.PutBlob(pr)
		// If the store stopped reading early, unblock the producer.
		pr.CloseWithError(io.ErrClosedPipe)
		done <- put{d, n, err}
	}()
	err := produce(pw)
	pw.CloseWithError(err) // nil closes with io.EOF
	p := <-done
	switch {
	case err != nil && p.err != nil && errors.Is(err, io.ErrClosedPipe):
		return "", 0, p.err // the store failed first; the producer only saw the pipe close
	case err != nil:
		return "", 0, err
	}
	return p.d, p.n, p.err
}
