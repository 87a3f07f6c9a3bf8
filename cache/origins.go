package cache

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	digest "github.com/opencontainers/go-digest"
)

// Blob origins: the registry repositories ("host/repo") a blob is known to
// be in, because it was pulled from or pushed to them. A push to another
// repository of the same registry can then mount the blob from there
// instead of uploading it. They are hints: a wrong one costs a failed
// mount and then an upload.

func (s *Store) originPath(d digest.Digest) string {
	if d.Validate() != nil {
		return ""
	}
	return filepath.Join(s.root, "origins", d.Encoded())
}

// BlobOrigins returns the repositories blob d is known to be in.
func (s *Store) BlobOrigins(d digest.Digest) ([]string, error) {
	p := s.originPath(d)
	if p == "" {
		return nil, fmt.Errorf("blob origins: invalid digest %q", d)
	}
	b, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("blob origins %s: %w", d, err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out, nil
}

// maxOrigins bounds the list: the newest repositories are kept.
const maxOrigins = 16

// AddBlobOrigin records that blob d is in repository repo.
func (s *Store) AddBlobOrigin(d digest.Digest, repo string) error {
	if repo == "" || strings.ContainsAny(repo, "\n\x00") {
		return fmt.Errorf("blob origin %q: invalid repository", repo)
	}
	have, err := s.BlobOrigins(d)
	if err != nil {
		return err
	}
	if slices.Contains(have, repo) {
		return nil
	}
	have = append(have, repo)
	if len(have) > maxOrigins {
		have = have[len(have)-maxOrigins:]
	}
	p := s.originPath(d)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return s.writeFileAtomic(p, []byte(strings.Join(have, "\n")+"\n"), 0o600)
}
