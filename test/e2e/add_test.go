package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

func tarGz(t *testing.T, files map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.String()
}

// ADD unpacks a local archive; COPY copies it as is.
func TestAddArchiveExtracts(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile":     "FROM busybox\nADD archive.tar.gz /x/\nCOPY archive.tar.gz /y/\n",
		"archive.tar.gz": tarGz(t, map[string]string{"a/b.txt": "inside\n"}),
	})
	build(t, root, dir, "-t", "add")
	stdout, _ := mustKiln(t, root, "run", "--rm", "add", "cat", "/x/a/b.txt")
	if stdout != "inside\n" {
		t.Errorf("ADD archive: got %q, want %q", stdout, "inside\n")
	}
	if _, _, code := kiln(t, root, "run", "--rm", "add", "test", "-f", "/y/archive.tar.gz"); code != 0 {
		t.Errorf("COPY archive: got exit %d, want the archive copied as is", code)
	}
}

// ADD URL fetches from a loopback server; --checksum verifies and, once
// cached, never downloads again.
func TestAddURL(t *testing.T) {
	root := newBusyboxRoot(t)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "remote\n")
	}))
	defer srv.Close()
	sum := digest.FromString("remote\n")
	df := fmt.Sprintf("FROM busybox\nADD %s/f /plain\nADD --checksum=%s %s/g /checked\n", srv.URL, sum, srv.URL)
	dir := newContext(t, map[string]string{"Dockerfile": df})
	build(t, root, dir, "-t", "url")
	stdout, _ := mustKiln(t, root, "run", "--rm", "url", "sh", "-c", "cat /plain /checked; stat -c %a /plain")
	if stdout != "remote\nremote\n600\n" {
		t.Errorf("ADD URL: got %q, want %q", stdout, "remote\nremote\n600\n")
	}
	hits.Store(0)
	build(t, root, dir, "-t", "url")
	if got := hits.Load(); got != 1 {
		t.Errorf("rebuild: got %d downloads, want 1 (only the URL without --checksum)", got)
	}
	bad := newContext(t, map[string]string{"Dockerfile": fmt.Sprintf("FROM busybox\nADD --checksum=%s %s/f /x\n", digest.FromString("other"), srv.URL)})
	_, stderr, code := kiln(t, root, "build", "-q", bad)
	if code == 0 || !strings.Contains(stderr, sum.String()) || !strings.Contains(stderr, srv.URL) {
		t.Errorf("checksum mismatch: got exit %d, stderr %q; want a failure naming the URL and both digests", code, stderr)
	}
}
