package cache

import (
	_ "crypto/sha256" // digest algorithms must be linked in
	_ "crypto/sha512"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
)

// PutBlob stores the content of r under its sha256 digest in oci/blobs and
// returns the digest and size. The content is streamed to the session dir,
// fsynced and renamed into place; if the blob is already there, ours is
// dropped.
func (s *Store) PutBlob(r io.Reader) (digest.Digest, int64, error) {
	session, err := s.sessionDir()
	if err != nil {
		return "", 0, fmt.Errorf("put blob: %w", err)
	}
	f, err := os.CreateTemp(session, "blob-*")
	if err != nil {
		return "", 0, fmt.Errorf("put blob: %w", err)
	}
	tmp := f.Name()
	d, n, err := func() (digest.Digest, int64, error) {
		defer f.Close()
		dg := digest.SHA256.Digester()
		n, err := io.Copy(io.MultiWriter(f, dg.Hash()), r)
		if err != nil {
			return "", 0, err
		}
		if err := f.Chmod(0o644); err != nil {
			return "", 0, err
		}
		if err := f.Sync(); err != nil {
			return "", 0, err
		}
		return dg.Digest(), n, f.Close()
	}()
	if err != nil {
		os.Remove(tmp)
		return "", 0, fmt.Errorf("put blob: %w", err)
	}
	if s.HasBlob(d) {
		os.Remove(tmp)
		return d, n, nil
	}
	// A concurrent writer of the same blob renames identical bytes; either
	// rename leaves a complete file, and open readers keep their inode.
	dst := s.BlobPath(d)
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return "", 0, fmt.Errorf("put blob %s: %w", d, err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return "", 0, fmt.Errorf("put blob %s: %w", d, err)
	}
	return d, n, nil
}

// BlobPath returns where the blob d is (or would be) stored, or "" if d is
// not a valid digest.
func (s *Store) BlobPath(d digest.Digest) string {
	if d.Validate() != nil {
		return ""
	}
	return filepath.Join(s.root, "oci", "blobs", d.Algorithm().String(), d.Encoded())
}

// HasBlob reports whether the blob d is in the store. It does not verify it.
func (s *Store) HasBlob(d digest.Digest) bool {
	p := s.BlobPath(d)
	if p == "" {
		return false
	}
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

// OpenBlob opens the blob d. The reader verifies the content as it goes: at
// EOF, Read returns an error wrapping ErrDigestMismatch instead of io.EOF if
// the content does not match d. A missing blob wraps ErrNotFound.
func (s *Store) OpenBlob(d digest.Digest) (io.ReadCloser, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("open blob %q: %w", d, err)
	}
	f, err := os.Open(s.BlobPath(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", d, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", d, err)
	}
	return &verifyingReader{f: f, d: d, v: d.Verifier()}, nil
}

// ReadBlob returns the verified content of the blob d.
func (s *Store) ReadBlob(d digest.Digest) ([]byte, error) {
	rc, err := s.OpenBlob(d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// verifyingReader checks the digest at EOF, as go-containerregistry's
// verifying readers do: a corrupt blob fails the read that would end it.
type verifyingReader struct {
	f   *os.File
	d   digest.Digest
	v   digest.Verifier
	err error
}

func (r *verifyingReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.f.Read(p)
	r.v.Write(p[:n])
	if err == io.EOF && !r.v.Verified() {
		err = fmt.Errorf("read blob %s: %w", r.d, ErrDigestMismatch)
	} else if err != nil && err != io.EOF {
		err = fmt.Errorf("read blob %s: %w", r.d, err)
	}
	r.err = err
	return n, err
}

func (r *verifyingReader) Close() error { return r.f.Close() }
