package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A fresh store rebuilds from an exported cache without running a step,
// though the context is at another path and its files have other modes
// (another umask) where --chmod fixes them: keys hold no paths, no times, no
// inodes.
func TestCacheExportImport(t *testing.T) {
	files := map[string]string{
		"Dockerfile": "FROM busybox\nCOPY --chmod=0644 app.txt /app.txt\nCOPY src /src\nRUN cat /app.txt /src/* > /all\n",
		"app.txt":    "app\n",
		"src/a":      "a\n",
	}
	shared := t.TempDir()
	baseCache, appCache := filepath.Join(shared, "base"), filepath.Join(shared, "app")

	// Machine A.
	rootA := newRoot(t)
	mustKiln(t, rootA, "build", "-q", "-t", "busybox", "--cache-to", "type=local,dest="+baseCache+",mode=max", busyboxContext)
	dirA := newContext(t, files)
	if err := os.Chmod(filepath.Join(dirA, "app.txt"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, idA := build(t, rootA, dirA, "-t", "app", "--cache-to", "type=local,dest="+appCache)

	// Machine B: another store, the context elsewhere, another umask.
	rootB := newRoot(t)
	log, _ := build(t, rootB, busyboxContext, "-t", "busybox", "--cache-from", "type=local,src="+baseCache)
	for _, s := range log.buildSteps() {
		if !s.cached {
			t.Errorf("busybox from the exported cache: step %s ran, want CACHED", s)
		}
	}
	dirB := filepath.Join(t.TempDir(), "elsewhere", "app")
	if err := copyDir(dirA, dirB); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dirB, "app.txt"), 0o664); err != nil {
		t.Fatal(err)
	}
	log, idB := build(t, rootB, dirB, "-t", "app", "--cache-from", "type=local,src="+appCache)
	for _, s := range log.buildSteps() {
		if !s.cached {
			t.Errorf("app from the exported cache: step %s ran, want CACHED\n%s", s, log.text)
		}
	}
	if idA != idB {
		t.Errorf("image IDs: got %s on B, %s on A, want the same", idB, idA)
	}
	if stdout, _ := mustKiln(t, rootB, "run", "--rm", "app", "cat", "/all"); stdout != "app\na\n" {
		t.Errorf("run app on B: got %q, want %q", stdout, "app\na\n")
	}
	mustCheck(t, rootB, "after import")

	// A changed file still rebuilds: imported records match only the
	// same inputs.
	writeFiles(t, dirB, map[string]string{"src/a": "changed\n"})
	log, _ = build(t, rootB, dirB, "-t", "app", "--cache-from", "type=local,src="+appCache)
	log.wantRan(t, "COPY src")
	log.wantCached(t, "COPY --chmod")
}

// A record whose key is not the digest of its input, or whose layers do not
// follow from their diff IDs, is refused, whatever its name.
func TestCacheImportRefusesTampered(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo one > /one\nRUN echo two > /two\n"})
	dest := filepath.Join(t.TempDir(), "cache")
	build(t, root, dir, "--cache-to", "type=local,dest="+dest)

	// Swap the two records' keys: each now claims another step's result.
	var idx struct {
		Manifests []struct{ Digest string }
	}
	readJSON(t, filepath.Join(dest, "index.json"), &idx)
	mp := filepath.Join(dest, "blobs", "sha256", strings.TrimPrefix(idx.Manifests[0].Digest, "sha256:"))
	var m map[string]any
	readJSON(t, mp, &m)
	recs := m["records"].([]any)
	if len(recs) < 2 {
		t.Fatalf("exported records: got %d, want at least 2", len(recs))
	}
	r0, r1 := recs[0].(map[string]any), recs[1].(map[string]any)
	r0["key"], r1["key"] = r1["key"], r0["key"]
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	// Rewrite the manifest under its new digest.
	if err := os.WriteFile(mp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	mustKiln(t, root, "prune", "--all") // nothing of the build left but busybox
	_, stderr, code := kiln(t, root, "build", "--progress", "plain", "--cache-from", "type=local,src="+dest, dir)
	if code == 0 || !strings.Contains(stderr, "digest mismatch") {
		t.Errorf("import of a manifest not matching its digest: got exit status %d, stderr %q, want a digest mismatch", code, stderr)
	}
	fixDigest(t, dest, mp, b)
	_, stderr = mustKiln(t, root, "build", "--progress", "plain", "--cache-from", "type=local,src="+dest, dir)
	if !strings.Contains(stderr, "key is not the digest of its input") {
		t.Errorf("import of swapped keys: got stderr %q, want the records refused", stderr)
	}
	log := parsePlain(stderr)
	log.wantRan(t, "RUN echo one")
	log.wantRan(t, "RUN echo two")
}

// fixDigest renames the manifest blob to its content's digest and points
// index.json at it, as a forger would.
func fixDigest(t *testing.T, dest, old string, b []byte) {
	t.Helper()
	sum := sha256Hex(b)
	if err := os.Rename(old, filepath.Join(dest, "blobs", "sha256", sum)); err != nil {
		t.Fatal(err)
	}
	var idx map[string]any
	readJSON(t, filepath.Join(dest, "index.json"), &idx)
	d := idx["manifests"].([]any)[0].(map[string]any)
	d["digest"] = "sha256:" + sum
	d["size"] = len(b)
	ib, _ := json.Marshal(idx)
	if err := os.WriteFile(filepath.Join(dest, "index.json"), ib, 0o644); err != nil {
		t.Fatal(err)
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
