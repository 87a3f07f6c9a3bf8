// Package registry moves images between kiln's store and OCI registries,
// through oras-go: pull (with the platform of this machine picked from an
// index), push (blobs the registry already has are not sent again), and
// login/logout with Docker's credential file. It belongs to the exporter
// stage: what it hands on is content in the store, or in a registry.
package registry

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/errcode"
	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/kiln-build/kiln/exporter"
)

var (
	// ErrNotFound reports an image the registry does not have.
	ErrNotFound = errors.New("not found in registry")
	// ErrUnauthorized reports a registry that wants credentials kiln does
	// not have, or refused the ones it has.
	ErrUnauthorized = errors.New("unauthorized")
)

// explain turns oras's authentication errors into one users can act on.
func explain(host string, err error) error {
	if errors.Is(err, auth.ErrBasicCredentialNotFound) {
		return fmt.Errorf("%w: %s wants a login (kiln login %s)", ErrUnauthorized, host, host)
	}
	var ec *errcode.ErrorResponse
	if errors.As(err, &ec) && ec.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("%w: %s refused the credentials (kiln login %s): %w", ErrUnauthorized, host, host, err)
	}
	return err
}

// Store is what the registry needs of kiln's store (*cache.Store).
type Store interface {
	exporter.BlobStore
	HasBlob(d digest.Digest) bool
}

// Event reports progress on one blob: "copy" (starting), "exists"
// (skipped, the other side has it), "mounted", and for large blobs
// "progress" with the bytes moved so far.
type Event struct {
	Kind string
	Desc ocispec.Descriptor
	Done int64 // "progress": bytes copied so far
}

// Options configure a Client.
type Options struct {
	// Insecure lists registries (host or host:port) reached as Docker
	// reaches insecure registries: HTTPS without certificate verification,
	// falling back to plain HTTP. Loopback hosts are always insecure, as
	// in Docker (127.0.0.0/8, ::1, localhost).
	Insecure []string
	// Credentials; nil reads Docker's config ($DOCKER_CONFIG/config.json or
	// ~/.docker/config.json, with its credential helpers).
	Credentials credentials.Store
	// Progress receives an event per blob; nil discards them.
	Progress func(Event)
}

// Client talks to registries.
type Client struct {
	opt   Options
	creds credentials.Store
	cache auth.Cache

	mu    sync.Mutex
	plain map[string]bool // host → plain HTTP, probed once
}

// New returns a client.
func New(opt Options) (*Client, error) {
	c := &Client{opt: opt, creds: opt.Credentials, cache: auth.NewCache(), plain: map[string]bool{}}
	if c.creds == nil {
		s, err := credentials.NewStoreFromDocker(credentials.StoreOptions{AllowPlaintextPut: true, DetectDefaultNativeStore: true})
		if err != nil {
			return nil, fmt.Errorf("docker credentials: %w", err)
		}
		c.creds = s
	}
	if c.opt.Progress == nil {
		c.opt.Progress = func(Event) {}
	}
	return c, nil
}

// dockerHub is the API host of Docker Hub's "docker.io".
const dockerHub = "registry-1.docker.io"

// ParseReference parses a remote image reference with Docker's defaults:
// no registry means Docker Hub, where a one-part name lives under library/;
// no tag means latest.
func ParseReference(ref string) (registry.Reference, error) {
	name := ref
	first, rest, hasSlash := strings.Cut(ref, "/")
	if !hasSlash || !(strings.ContainsAny(first, ".:") || first == "localhost") {
		if !hasSlash {
			name = "library/" + ref
		}
		name = dockerHub + "/" + name
	} else if first == "docker.io" || first == "index.docker.io" {
		if !strings.Contains(rest, "/") {
			rest = "library/" + rest
		}
		name = dockerHub + "/" + rest
	}
	r, err := registry.ParseReference(name)
	if err != nil {
		return registry.Reference{}, fmt.Errorf("reference %q: %w", ref, err)
	}
	if r.Reference == "" {
		r.Reference = "latest"
	}
	return r, nil
}

// isInsecure reports whether host (host[:port]) is reached as Docker
// reaches insecure registries.
func (c *Client) isInsecure(host string) bool {
	for _, h := range c.opt.Insecure {
		if h == host {
			return true
		}
		if hn, _, err := net.SplitHostPort(host); err == nil && h == hn {
			return true
		}
	}
	hn := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		hn = h
	}
	if hn == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(hn, "[]"))
	return ip != nil && ip.IsLoopback()
}

func (c *Client) httpClient(insecure bool) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // Docker's insecure-registry semantics, asked for by the user or loopback
	}
	return &http.Client{Transport: retry.NewTransport(tr)}
}

// plainHTTP reports whether an insecure host speaks plain HTTP: Docker
// tries HTTPS first and falls back when the TLS handshake fails.
func (c *Client) plainHTTP(ctx context.Context, host string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.plain[host]; ok {
		return p
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // probing only
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/v2/", nil)
	plain := true
	if err == nil {
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			plain = false
		}
	}
	c.plain[host] = plain
	return plain
}

func (c *Client) authClient(insecure bool) *auth.Client {
	return &auth.Client{
		Client:     c.httpClient(insecure),
		Header:     http.Header{"User-Agent": {"kiln"}},
		Credential: credentials.Credential(c.creds),
		Cache:      c.cache,
	}
}

func (c *Client) repository(ctx context.Context, r registry.Reference) (*remote.Repository, error) {
	repo, err := remote.NewRepository(r.Registry + "/" + r.Repository)
	if err != nil {
		return nil, err
	}
	insecure := c.isInsecure(r.Registry)
	if insecure {
		repo.PlainHTTP = c.plainHTTP(ctx, r.Registry)
	}
	repo.Client = c.authClient(insecure)
	return repo, nil
}

// OriginStore is a Store that also remembers which repositories hold a
// blob (*cache.Store does), so that a push to another repository of the
// same registry mounts the blob instead of uploading it again.
type OriginStore interface {
	BlobOrigins(d digest.Digest) ([]string, error)
	AddBlobOrigin(d digest.Digest, repo string) error
}

// copyOptions reports progress and, with an OriginStore, records where
// blobs are and mounts them across repositories on push.
func (c *Client) copyOptions(store Store, r registry.Reference, push bool) oras.CopyGraphOptions {
	o := oras.DefaultCopyGraphOptions
	here := r.Registry + "/" + r.Repository
	origins, _ := store.(OriginStore)
	// record notes that a blob is in this repository. Origins are hints
	// (a stale one costs a failed mount, then an upload), so a failure to
	// record one does not fail the copy.
	record := func(d ocispec.Descriptor) {
		if origins != nil && !isManifest(d.MediaType) {
			_ = origins.AddBlobOrigin(d.Digest, here)
		}
	}
	o.PreCopy = func(_ context.Context, d ocispec.Descriptor) error {
		c.opt.Progress(Event{Kind: "copy", Desc: d})
		return nil
	}
	o.PostCopy = func(_ context.Context, d ocispec.Descriptor) error {
		record(d)
		return nil
	}
	o.OnCopySkipped = func(_ context.Context, d ocispec.Descriptor) error {
		record(d)
		c.opt.Progress(Event{Kind: "exists", Desc: d})
		return nil
	}
	o.OnMounted = func(_ context.Context, d ocispec.Descriptor) error {
		record(d)
		c.opt.Progress(Event{Kind: "mounted", Desc: d})
		return nil
	}
	if push && origins != nil {
		o.MountFrom = func(_ context.Context, d ocispec.Descriptor) ([]string, error) {
			known, err := origins.BlobOrigins(d.Digest)
			if err != nil {
				return nil, nil // no hint: upload
			}
			var repos []string
			for _, k := range known {
				if repo, ok := strings.CutPrefix(k, r.Registry+"/"); ok && k != here {
					repos = append(repos, repo)
				}
			}
			return repos, nil
		}
	}
	return o
}

// Pull copies the image ref into store and returns the descriptor of the
// manifest to tag: for an index (a multi-platform image), the manifest of
// this machine's platform.
func (c *Client) Pull(ctx context.Context, store Store, ref string) (ocispec.Descriptor, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	repo, err := c.repository(ctx, r)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	desc, err := repo.Resolve(ctx, r.Reference)
	if errors.Is(err, errdef.ErrNotFound) {
		return ocispec.Descriptor{}, fmt.Errorf("pull %s: %w", ref, ErrNotFound)
	}
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pull %s: %w", ref, explain(r.Registry, err))
	}
	for depth := 0; isIndex(desc.MediaType); depth++ {
		if depth > 4 {
			return ocispec.Descriptor{}, fmt.Errorf("pull %s: indexes nested too deep", ref)
		}
		b, err := fetchAll(ctx, repo, desc)
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("pull %s: %w", ref, err)
		}
		var idx ocispec.Index
		if err := json.Unmarshal(b, &idx); err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("pull %s: index: %w", ref, err)
		}
		m, ok := exporter.SelectPlatform(idx.Manifests)
		if !ok {
			return ocispec.Descriptor{}, fmt.Errorf("pull %s: no image for this platform in the index: %w", ref, ErrNotFound)
		}
		desc = m
	}
	if err := oras.CopyGraph(ctx, repo, storage{store, c.opt.Progress}, desc, c.copyOptions(store, r, false)); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pull %s: %w", ref, explain(r.Registry, err))
	}
	desc.Annotations = nil
	desc.URLs = nil
	return desc, nil
}

// isManifest says whether mt is a manifest or index: those are pushed by
// tag or digest, never mounted.
func isManifest(mt string) bool {
	return isIndex(mt) || mt == ocispec.MediaTypeImageManifest || mt == "application/vnd.docker.distribution.manifest.v2+json"
}

func isIndex(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == "application/vnd.docker.distribution.manifest.list.v2+json"
}

func fetchAll(ctx context.Context, repo *remote.Repository, d ocispec.Descriptor) ([]byte, error) {
	rc, err := repo.Fetch(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 16<<20))
	if err != nil {
		return nil, err
	}
	if d.Digest.Validate() == nil && digest.FromBytes(b) != d.Digest {
		return nil, fmt.Errorf("manifest %s: digest mismatch", d.Digest)
	}
	return b, nil
}

// Push copies the image with the manifest desc from store to ref. Blobs
// the repository has are skipped (a HEAD each), so a second push of the
// same image uploads nothing but the manifest check.
func (c *Client) Push(ctx context.Context, store Store, desc ocispec.Descriptor, ref string) error {
	r, err := ParseReference(ref)
	if err != nil {
		return err
	}
	repo, err := c.repository(ctx, r)
	if err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	desc.Annotations = nil
	desc.Platform = nil
	if err := oras.CopyGraph(ctx, storage{store, c.opt.Progress}, repo, desc, c.copyOptions(store, r, true)); err != nil {
		return fmt.Errorf("push %s: %w", ref, explain(r.Registry, err))
	}
	if err := repo.Tag(ctx, desc, r.Reference); err != nil {
		return fmt.Errorf("push %s: tag: %w", ref, explain(r.Registry, err))
	}
	return nil
}

// Login checks user and password against the registry and stores them in
// Docker's credential file (or helper).
func (c *Client) Login(ctx context.Context, server, user, password string) error {
	host := registryHost(server)
	reg, err := remote.NewRegistry(host)
	if err != nil {
		return fmt.Errorf("login %s: %w", server, err)
	}
	insecure := c.isInsecure(host)
	if insecure {
		reg.PlainHTTP = c.plainHTTP(ctx, host)
	}
	reg.Client = c.authClient(insecure)
	if err := credentials.Login(ctx, c.creds, reg, auth.Credential{Username: user, Password: password}); err != nil {
		return fmt.Errorf("login %s: %w", server, explain(host, err))
	}
	return nil
}

// Logout removes the stored credentials of server.
func (c *Client) Logout(ctx context.Context, server string) error {
	if err := credentials.Logout(ctx, c.creds, registryHost(server)); err != nil {
		return fmt.Errorf("logout %s: %w", server, err)
	}
	return nil
}

// registryHost maps Docker's names of Docker Hub to its API host.
func registryHost(server string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
	s = strings.TrimSuffix(s, "/")
	switch s {
	case "", "docker.io", "index.docker.io", "index.docker.io/v1", "registry-1.docker.io":
		return dockerHub
	}
	return s
}

// storage adapts the store to oras's content.Storage, reporting progress
// on large blobs as they are read (push) or written (pull).
type storage struct {
	s        Store
	progress func(Event)
}

func (st storage) Fetch(_ context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	rc, err := st.s.OpenBlob(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", d.Digest, errdef.ErrNotFound, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{st.meter(rc, d), rc}, nil
}

// Progress is reported for blobs of at least progressMin bytes, at most
// every progressEvery.
const (
	progressMin   = 4 << 20
	progressEvery = 500 * time.Millisecond
)

// meter wraps r to report how much of blob d has been read.
func (st storage) meter(r io.Reader, d ocispec.Descriptor) io.Reader {
	if st.progress == nil || d.Size < progressMin {
		return r
	}
	return &meter{r: r, d: d, report: st.progress, last: time.Now()}
}

type meter struct {
	r      io.Reader
	d      ocispec.Descriptor
	report func(Event)
	done   int64
	last   time.Time
}

func (m *meter) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.done += int64(n)
	if now := time.Now(); now.Sub(m.last) >= progressEvery || (err == io.EOF && m.done > 0) {
		m.last = now
		m.report(Event{Kind: "progress", Desc: m.d, Done: m.done})
	}
	return n, err
}

func (st storage) Exists(_ context.Context, d ocispec.Descriptor) (bool, error) {
	return st.s.HasBlob(d.Digest), nil
}

// Push stores content, which must match expected: the registry is not
// trusted, so the digest is checked before the blob counts as stored.
func (st storage) Push(_ context.Context, expected ocispec.Descriptor, content io.Reader) error {
	d, n, err := st.s.PutBlob(st.meter(io.LimitReader(content, expected.Size+1), expected))
	if err != nil {
		return err
	}
	if d != expected.Digest || n != expected.Size {
		return fmt.Errorf("blob %s: got %s (%d bytes), want %d bytes: %w", expected.Digest, d, n, expected.Size, exporter.ErrDigestMismatch)
	}
	return nil
}
