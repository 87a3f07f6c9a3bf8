package solver

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/llb"
)

// ErrChecksumMismatch reports an ADD --checksum that the download does not
// match.
var ErrChecksumMismatch = errors.New("checksum mismatch")

// httpClient fetches ADD URLs. Proxies come from HTTP_PROXY, HTTPS_PROXY
// and NO_PROXY; a server that connects but never answers fails after a
// minute, a download that has started runs as long as ctx allows.
var httpClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
	TLSHandshakeTimeout:   30 * time.Second,
	ResponseHeaderTimeout: time.Minute,
	ForceAttemptHTTP2:     true,
}}

// httpKey is what an HTTPOp's cache key covers: the content's digest (and
// the file name). With a checksum that is known before downloading, so a
// hit never downloads; without, every build downloads and unchanged content
// keeps later steps cached. A sha256 checksum and the digest of a download
// give the same key.
type httpKey struct {
	Version  string        `json:"v"`
	Kind     string        `json:"kind"`
	Checksum digest.Digest `json:"checksum,omitempty"`
	Content  digest.Digest `json:"content,omitempty"`
	Filename string        `json:"filename"`
}

func (k httpKey) digest() digest.Digest {
	b, _ := json.Marshal(k) // plain strings: cannot fail
	return digest.FromBytes(b)
}

// http solves an HTTPOp: a layer holding one file, Filename, mode 0600,
// owned by root, with its mtime from Last-Modified (Docker's rules).
func (st *state) http(ctx context.Context, v *llb.Vertex, op *llb.HTTPOp) (result, error) {
	fail := func(err error) (result, error) {
		st.emit(v, Failed, err)
		return result{}, &VertexError{Meta: v.Meta, Err: err}
	}
	if op.Filename == "" || strings.ContainsAny(op.Filename, "/\x00") || op.Filename == "." || op.Filename == ".." {
		return fail(fmt.Errorf("%s: invalid file name %q", op.URL, op.Filename))
	}
	k := httpKey{Version: "kiln.v1", Kind: op.Kind(), Filename: op.Filename}
	if op.Checksum != "" {
		if err := op.Checksum.Validate(); err != nil {
			return fail(fmt.Errorf("%s: checksum %q: %w", op.URL, op.Checksum, err))
		}
		if op.Checksum.Algorithm() == digest.SHA256 {
			k.Content = op.Checksum
		} else {
			k.Checksum = op.Checksum
		}
		if r, ok, err := st.cached(k.digest()); err != nil {
			return fail(err)
		} else if ok {
			st.emit(v, Cached, nil)
			return r, nil
		}
	}
	st.emit(v, Started, nil)
	diff, cleanup, err := st.sourceDir("http")
	if err != nil {
		return fail(err)
	}
	defer cleanup()
	sum, err := fetch(ctx, op, filepath.Join(diff, op.Filename))
	if err != nil {
		return fail(err)
	}
	if op.Checksum == "" {
		k.Content = sum
		if r, ok, err := st.cached(k.digest()); err != nil {
			return fail(err)
		} else if ok {
			st.emit(v, Done, nil)
			return r, nil
		}
	}
	r, err := st.commitSource(ctx, diff, k.digest())
	if err != nil {
		return fail(err)
	}
	st.emit(v, Done, nil)
	return r, nil
}

// cached returns the result recorded under key, if any.
func (st *state) cached(key digest.Digest) (result, bool, error) {
	if st.opt.NoCache {
		return result{}, false, nil
	}
	rec, ok, err := st.store.CacheRecord(key)
	if err != nil || !ok {
		return result{}, false, err
	}
	layers, err := st.loadLayers(rec.Layers)
	if err != nil {
		return result{}, false, nil
	}
	return result{key: key, layers: layers}, true, nil
}

// fetch downloads op.URL into file and returns the content's digest,
// verified against op.Checksum when set.
func fetch(ctx context.Context, op *llb.HTTPOp, file string) (digest.Digest, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, op.URL, nil)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op.URL, err)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("fetch %w", err) // *url.Error names the URL
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", fmt.Errorf("fetch %s: %s", op.URL, resp.Status)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("fetch %s: %w", op.URL, err)
	}
	got := digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil))
	if op.Checksum != "" {
		want := op.Checksum
		if want.Algorithm() != digest.SHA256 {
			// Rare: hash again with the asked algorithm.
			if !want.Algorithm().Available() {
				return "", fmt.Errorf("%s: checksum %s: unsupported algorithm", op.URL, want)
			}
			rf, err := os.Open(file)
			if err != nil {
				return "", err
			}
			got, err = want.Algorithm().FromReader(rf)
			rf.Close()
			if err != nil {
				return "", err
			}
		}
		if got != want {
			return "", fmt.Errorf("%s: %w: got %s, want %s", op.URL, ErrChecksumMismatch, got, want)
		}
	}
	// Docker's rule: mode 0600, the server's Last-Modified as mtime (else
	// the Unix epoch, so a rebuild of the same content is the same layer).
	mtime := time.Unix(0, 0)
	if lm := resp.Header.Get("Last-Modified"); lm != "" {
		if t, err := http.ParseTime(lm); err == nil {
			mtime = t
		}
	}
	if err := os.Chtimes(file, mtime, mtime); err != nil {
		return "", err
	}
	return got, nil
}
