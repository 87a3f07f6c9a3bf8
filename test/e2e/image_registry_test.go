package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testRegistry is Debian's docker-registry, run by the test on loopback.
type testRegistry struct {
	host string // 127.0.0.1:PORT
}

type registryOptions struct {
	certFile, keyFile string // TLS when set
	htpasswd          string // basic auth when set
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startRegistry(t *testing.T, opt registryOptions) *testRegistry {
	t.Helper()
	bin := needTool(t, "docker-registry", "docker-registry")
	dir := t.TempDir()
	port := freePort(t)
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%d\n", filepath.Join(dir, "data"), port)
	if opt.certFile != "" {
		cfg += fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", opt.certFile, opt.keyFile)
	}
	if opt.htpasswd != "" {
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: kiln-test\n    path: %s\n", opt.htpasswd)
	}
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("docker-registry serve: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		log.Close()
	})
	r := &testRegistry{host: fmt.Sprintf("127.0.0.1:%d", port)}
	scheme := "http"
	client := &http.Client{Timeout: time.Second}
	if opt.certFile != "" {
		scheme = "https"
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // readiness probe only
	}
	for deadline := time.Now().Add(15 * time.Second); ; {
		resp, err := client.Get(scheme + "://" + r.host + "/v2/")
		if err == nil {
			resp.Body.Close()
			return r
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("docker-registry did not come up on %s: %v\n%s", r.host, err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// countingProxy fronts a plain HTTP registry and counts blob uploads
// (POST …/blobs/uploads/, the start of every upload that is not a mount).
type countingProxy struct {
	host    string
	uploads atomic.Int64
	mounts  atomic.Int64 // POST …/blobs/uploads/?mount=…&from=…
}

func startCountingProxy(t *testing.T, backend string) *countingProxy {
	t.Helper()
	target, _ := url.Parse("http://" + backend)
	rp := httputil.NewSingleHostReverseProxy(target)
	p := &countingProxy{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.host = l.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			if r.URL.Query().Get("mount") == "" {
				p.uploads.Add(1)
			} else {
				p.mounts.Add(1)
			}
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return p
}

// A plain HTTP registry on loopback takes kiln push, serves kiln pull into
// an empty store, FROM it builds in an empty store, and a second push
// uploads no blob.
func TestImageRegistryPlainHTTP(t *testing.T) {
	root := newBusyboxRoot(t)
	reg := startRegistry(t, registryOptions{})
	proxy := startCountingProxy(t, reg.host)
	ref := proxy.host + "/kiln/busybox:1"

	mustKiln(t, root, "push", "busybox", ref)
	first := proxy.uploads.Load()
	if first == 0 {
		t.Fatalf("first push: got 0 blob uploads, want some")
	}
	mustKiln(t, root, "push", "busybox", ref)
	if n := proxy.uploads.Load() - first; n != 0 {
		t.Errorf("second push: got %d blob uploads, want 0", n)
	}
	// Another tag of an image sharing every layer uploads nothing either.
	_, id := build(t, root, newContext(t, map[string]string{"Dockerfile": "FROM busybox\nENV X=1\n"}), "-t", "env")
	before := proxy.uploads.Load()
	mustKiln(t, root, "push", "env", proxy.host+"/kiln/busybox:env")
	if n := proxy.uploads.Load() - before; n != 1 {
		t.Errorf("push of an image differing only in config: got %d blob uploads, want 1 (the config)", n)
	}

	fresh := newRoot(t)
	mustKiln(t, fresh, "pull", ref)
	if got, _ := mustKiln(t, fresh, "run", "--rm", ref, "echo", "pulled"); got != "pulled\n" {
		t.Errorf("kiln run of the pulled image: got %q, want pulled", got)
	}
	fresh = newRoot(t)
	mustKiln(t, fresh, "pull", proxy.host+"/kiln/busybox:env")
	if ids, _ := mustKiln(t, fresh, "images", "-q"); strings.TrimSpace(ids) != strings.TrimPrefix(id, "sha256:")[:12] {
		t.Errorf("kiln images -q after pull: got %q, want the pushed image ID %s", ids, id)
	}

	fresh = newRoot(t)
	ctx := newContext(t, map[string]string{"Dockerfile": "FROM " + ref + "\nRUN echo built > /out\nCMD [\"cat\", \"/out\"]\n"})
	if _, _, code := kiln(t, fresh, "build", "--pull=never", "-t", "app", ctx); code == 0 {
		t.Errorf("kiln build --pull=never of a missing FROM: got exit 0, want a failure")
	}
	mustKiln(t, fresh, "build", "-q", "-t", "app", ctx)
	if got, _ := mustKiln(t, fresh, "run", "--rm", "app"); got != "built\n" {
		t.Errorf("kiln run app (FROM the registry): got %q, want built", got)
	}
	// --output type=image,push=true pushes to the name.
	mustKiln(t, fresh, "build", "-q", "-o", "type=image,name="+proxy.host+"/kiln/app:pushed,push=true", ctx)
	other := newRoot(t)
	mustKiln(t, other, "pull", proxy.host+"/kiln/app:pushed")

	if _, stderr, code := kiln(t, fresh, "pull", proxy.host+"/kiln/nothing:here"); code == 0 || !strings.Contains(stderr, "not found") {
		t.Errorf("kiln pull of a missing image: got exit %d, stderr %q, want a not found error", code, stderr)
	}
}

// With htpasswd basic auth over TLS (a CA made by the test), push needs
// kiln login, credentials land in $DOCKER_CONFIG/config.json, and logout
// removes them.
func TestImageRegistryTLSBasicAuth(t *testing.T) {
	root := newBusyboxRoot(t)
	htpasswd := needTool(t, "htpasswd", "apache2-utils")
	dir := t.TempDir()
	certFile, keyFile, caFile := makeTestCerts(t, dir)
	hp := filepath.Join(dir, "htpasswd")
	if out, err := exec.Command(htpasswd, "-Bbc", hp, "kiln", "s3cret").CombinedOutput(); err != nil {
		t.Fatalf("htpasswd: %v\n%s", err, out)
	}
	reg := startRegistry(t, registryOptions{certFile: certFile, keyFile: keyFile, htpasswd: hp})
	t.Setenv("DOCKER_CONFIG", filepath.Join(dir, "docker"))
	t.Setenv("SSL_CERT_FILE", caFile)
	ref := reg.host + "/secure/busybox"

	if _, stderr, code := kiln(t, root, "push", "busybox", ref); code == 0 || !strings.Contains(strings.ToLower(stderr), "unauthorized") {
		t.Errorf("push without login: got exit %d, stderr %q, want unauthorized", code, stderr)
	}
	if _, _, code := kilnStdin(t, root, strings.NewReader("wrong\n"), "login", "-u", "kiln", "--password-stdin", reg.host); code == 0 {
		t.Errorf("login with a wrong password: got exit 0, want a failure")
	}
	if _, stderr, code := kilnStdin(t, root, strings.NewReader("s3cret\n"), "login", "-u", "kiln", "--password-stdin", reg.host); code != 0 {
		t.Fatalf("login: exit %d: %s", code, stderr)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "docker", "config.json"))
	if err != nil || !strings.Contains(string(cfg), reg.host) {
		t.Errorf("config.json after login: got %q, %v, want an entry for %s", cfg, err, reg.host)
	}
	mustKiln(t, root, "push", "busybox", ref)
	fresh := newRoot(t)
	mustKiln(t, fresh, "pull", ref)
	if got, _ := mustKiln(t, fresh, "run", "--rm", ref, "echo", "tls"); got != "tls\n" {
		t.Errorf("kiln run of the image pulled over TLS: got %q, want tls", got)
	}
	mustKiln(t, root, "logout", reg.host)
	if _, _, code := kiln(t, newRoot(t), "pull", ref); code == 0 {
		t.Errorf("pull after logout: got exit 0, want unauthorized")
	}
}

// makeTestCerts writes a CA and a server certificate for 127.0.0.1 signed
// by it.
func makeTestCerts(t *testing.T, dir string) (certFile, keyFile, caFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kiln test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, caFile = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"), filepath.Join(dir, "ca.crt")
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{{certFile, "CERTIFICATE", der}, {keyFile, "EC PRIVATE KEY", keyDER}, {caFile, "CERTIFICATE", caDER}} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile, caFile
}

// A push to another repository of the same registry mounts the blobs kiln
// knows are there (pushed or pulled) instead of uploading them again.
func TestImageRegistryCrossRepoMount(t *testing.T) {
	root := newBusyboxRoot(t)
	reg := startRegistry(t, registryOptions{})
	proxy := startCountingProxy(t, reg.host)

	mustKiln(t, root, "push", "busybox", proxy.host+"/team-a/busybox:1")
	uploads := proxy.uploads.Load()
	mustKiln(t, root, "push", "busybox", proxy.host+"/team-b/busybox:1")
	if n := proxy.uploads.Load() - uploads; n != 0 {
		t.Errorf("push to a second repository: got %d blob uploads, want 0 (all mounted)", n)
	}
	if proxy.mounts.Load() == 0 {
		t.Errorf("push to a second repository: got no blob mounts, want the image's blobs mounted")
	}

	// A store that only pulled the image knows where its blobs are, too.
	fresh := newRoot(t)
	mustKiln(t, fresh, "pull", proxy.host+"/team-b/busybox:1")
	uploads, mounts := proxy.uploads.Load(), proxy.mounts.Load()
	mustKiln(t, fresh, "push", proxy.host+"/team-b/busybox:1", proxy.host+"/team-c/busybox:1")
	if n := proxy.uploads.Load() - uploads; n != 0 {
		t.Errorf("push of a pulled image to a third repository: got %d blob uploads, want 0", n)
	}
	if proxy.mounts.Load() == mounts {
		t.Errorf("push of a pulled image to a third repository: got no blob mounts, want some")
	}
	other := newRoot(t)
	mustKiln(t, other, "pull", proxy.host+"/team-c/busybox:1")
	if got, _ := mustKiln(t, other, "run", "--rm", proxy.host+"/team-c/busybox:1", "echo", "mounted"); got != "mounted\n" {
		t.Errorf("run of the image pushed by mounts: got %q, want mounted", got)
	}
}
