package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A fresh store rebuilds from a cache pushed to a registry without running
// a step, and with mounts=true gets the cache mounts' contents too.
func TestCacheRegistry(t *testing.T) {
	reg := startRegistry(t, registryOptions{})
	ref := reg.host + "/kiln/cache:app"
	dir := newContext(t, nil)
	if err := copyDir(busyboxContext, dir); err != nil {
		t.Fatal(err)
	}
	df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df = append(df, "RUN echo built > /built\nRUN --mount=type=cache,id=pkg,target=/c echo one >> /c/log && cat /c/log > /seen\n"...)
	writeFiles(t, dir, map[string]string{"Dockerfile": string(df)})

	rootA := newRoot(t)
	logA, idA := build(t, rootA, dir, "-t", "app", "--cache-to", "type=registry,ref="+ref+",mode=max,mounts=true")
	if len(logA.buildSteps()) < 3 {
		t.Fatalf("build on A: got steps %v, want at least 3", logA.buildSteps())
	}

	rootB := newRoot(t)
	logB, idB := build(t, rootB, dir, "-t", "app", "--cache-from", "type=registry,ref="+ref+",mounts=true")
	for _, s := range logB.buildSteps() {
		if !s.cached {
			t.Errorf("build from the registry cache: step %s ran, want CACHED\n%s", s, logB.text)
		}
	}
	if idA != idB {
		t.Errorf("image IDs: got %s on B, %s on A, want the same", idB, idA)
	}
	if stdout, _ := mustKiln(t, rootB, "run", "--rm", "app", "cat", "/built", "/seen"); stdout != "built\none\n" {
		t.Errorf("run app on B: got %q, want %q", stdout, "built\none\n")
	}
	sum := sha256.Sum256([]byte("pkg"))
	if b, err := os.ReadFile(filepath.Join(rootB, "mounts", hex.EncodeToString(sum[:]), "log")); err != nil || string(b) != "one\n" {
		t.Errorf("cache mount pkg on B: got %q, %v, want %q", b, err, "one\n")
	}
	mustCheck(t, rootB, "after registry import")

	// A ref nothing was pushed to is a first CI run: a warning, a build.
	_, stderr := mustKiln(t, newRoot(t), "build", "-q", "--cache-from", "type=registry,ref="+reg.host+"/kiln/none:x", busyboxContext)
	if !strings.Contains(stderr, "not found") {
		t.Errorf("--cache-from a missing ref: got stderr %q, want a warning", stderr)
	}
}

// mounts=true carries a RUN cache mount to a fresh store, where the next,
// changed RUN sees what the earlier one left; a mount with content is never
// overwritten by an import.
func TestCacheMountsLocal(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "cache")
	run := "FROM busybox\nRUN --mount=type=cache,id=pkg,target=/c echo %s >> /c/log && cat /c/log > /seen\n"
	rootA := newBusyboxRoot(t)
	build(t, rootA, newContext(t, map[string]string{"Dockerfile": strings.Replace(run, "%s", "one", 1)}),
		"--cache-to", "type=local,dest="+dest+",mounts=true")

	rootB := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{"Dockerfile": strings.Replace(run, "%s", "two", 1)})
	log, _ := build(t, rootB, dir, "-t", "two", "--cache-from", "type=local,src="+dest+",mounts=true")
	log.wantRan(t, "RUN --mount")
	if stdout, _ := mustKiln(t, rootB, "run", "--rm", "two", "cat", "/seen"); stdout != "one\ntwo\n" {
		t.Errorf("changed RUN after a mounts=true import: got %q, want %q", stdout, "one\ntwo\n")
	}
	// Imported again, the now non-empty mount stays as it is.
	dir3 := newContext(t, map[string]string{"Dockerfile": strings.Replace(run, "%s", "three", 1)})
	build(t, rootB, dir3, "-t", "three", "--cache-from", "type=local,src="+dest+",mounts=true")
	if stdout, _ := mustKiln(t, rootB, "run", "--rm", "three", "cat", "/seen"); stdout != "one\ntwo\nthree\n" {
		t.Errorf("second import over a used mount: got %q, want %q", stdout, "one\ntwo\nthree\n")
	}
	// Without mounts=true the mount stays behind.
	rootC := newBusyboxRoot(t)
	build(t, rootC, dir, "-t", "two", "--cache-from", "type=local,src="+dest)
	if stdout, _ := mustKiln(t, rootC, "run", "--rm", "two", "cat", "/seen"); stdout != "two\n" {
		t.Errorf("import without mounts=true: got %q, want %q", stdout, "two\n")
	}
}
