package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// checkRecords fails the test if a cache record names a layer that is not
// complete (meta.json and diff/ present), reading the store directly.
func checkRecords(t *testing.T, root, when string) {
	t.Helper()
	recs, err := filepath.Glob(filepath.Join(root, "cache", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range recs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var r struct{ Layers []string }
		if err := json.Unmarshal(b, &r); err != nil {
			t.Errorf("%s: record %s: %v (a torn write)", when, filepath.Base(p), err)
			continue
		}
		for _, l := range r.Layers {
			dir := filepath.Join(root, "layers", strings.TrimPrefix(l, "sha256:"))
			for _, f := range []string{"meta.json", "diff"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("%s: record %s: layer %s: %v", when, filepath.Base(p), l, err)
				}
			}
		}
	}
}

// kill -9 of kiln build at 30 random moments never leaves a record pointing
// at a missing or partial layer; system check stays clean; the next build
// succeeds and reuses every step that was complete.
func TestCacheCrashLoop(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile": `FROM busybox
COPY a /a
RUN head -c 2000000 /dev/urandom > /r1 && echo r1
ARG N
RUN echo $N > /n && head -c 1000000 /dev/urandom > /r2
COPY b /b
RUN cat /a /b /n /r1 /r2 > /all && md5sum /all > /sum
`,
		"a": strings.Repeat("a", 100000),
		"b": strings.Repeat("b", 100000),
	})
	// A complete build first: what it recorded must survive every kill.
	build(t, root, dir, "--build-arg", "N=complete", "-t", "complete")

	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	const kills = 30
	for i := range kills {
		delay := time.Duration(rng.IntN(700)) * time.Millisecond
		ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
		cmd := kilnCommand(ctx, root, "build", "-q", "--build-arg", fmt.Sprintf("N=%d", i), "-t", "killed", dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		cancel()
		checkRecords(t, root, fmt.Sprintf("after kill %d at %v", i, delay))
	}
	if m := mountsUnder(t, root); len(m) > 0 {
		t.Errorf("after %d kills: got mounts under the store, want none:\n%s", kills, strings.Join(m, "\n"))
	}
	mustCheck(t, root, fmt.Sprintf("after %d kills", kills))

	// What was complete is reused: the whole earlier build, and the steps
	// before the ARG for a new value.
	log, _ := build(t, root, dir, "--build-arg", "N=complete", "-t", "complete")
	for _, s := range log.buildSteps() {
		if !s.cached {
			t.Errorf("rebuild of the complete build after the kills: step %s ran, want CACHED", s)
		}
	}
	log, _ = build(t, root, dir, "--build-arg", "N=new", "-t", "new")
	log.wantCached(t, "COPY a /a")
	log.wantCached(t, "RUN head -c 2000000")
	log.wantRan(t, "RUN echo $N")
	stdout, _ := mustKiln(t, root, "run", "--rm", "new", "sh", "-c", "cd / && md5sum -c /sum >/dev/null && cat /a /b /n /r1 /r2 | cmp - /all && cat /n")
	if stdout != "new\n" {
		t.Errorf("image built after the kills: got %q, want %q", stdout, "new\n")
	}
	mustCheck(t, root, "after the builds that followed the kills")
}

// Four builds at once on one store, sharing steps, with a kiln prune beside
// them: all succeed, and each shared step runs once (its layer holds the
// time it ran, the same in every image).
func TestCacheConcurrentBuildsAndPrune(t *testing.T) {
	root := newBusyboxRoot(t)
	type outcome struct {
		stdout, stderr string
		code           int
	}
	const n = 4
	results := make([]outcome, n+1)
	var wg sync.WaitGroup
	for i := range n {
		dir := newContext(t, map[string]string{
			"Dockerfile": fmt.Sprintf(`FROM busybox
COPY shared.txt /shared.txt
RUN date +%%s%%N > /ran-at && sleep 1
RUN date +%%s%%N > /ran-at-2
COPY own.txt /own.txt
RUN cat /own.txt
`),
			"shared.txt": "shared\n",
			"own.txt":    fmt.Sprintf("build %d\n", i),
		})
		wg.Go(func() {
			o := &results[i]
			o.stdout, o.stderr, o.code = kiln(t, root, "build", "--progress", "plain", "-t", fmt.Sprintf("b%d", i), dir)
		})
	}
	wg.Go(func() {
		time.Sleep(300 * time.Millisecond)
		o := &results[n]
		o.stdout, o.stderr, o.code = kiln(t, root, "prune")
	})
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("command %d: got exit status %d, want 0\n%s%s", i, r.code, r.stdout, r.stderr)
		}
	}
	runs := map[string]int{}
	for i := range n {
		log := parsePlain(results[i].stderr)
		for _, s := range log.buildSteps() {
			if s.done {
				runs[s.name[strings.Index(s.name, "]")+2:]]++
			}
		}
	}
	for _, step := range []string{"COPY shared.txt /shared.txt", "RUN date +%s%N > /ran-at && sleep 1", "RUN date +%s%N > /ran-at-2"} {
		if runs[step] != 1 {
			t.Errorf("shared step %q: ran %d times across %d builds, want once", step, runs[step], n)
		}
	}
	if runs["RUN cat /own.txt"] != n {
		t.Errorf("own step: ran %d times, want %d", runs["RUN cat /own.txt"], n)
	}
	var first string
	for i := range n {
		stdout, _ := mustKiln(t, root, "run", "--rm", fmt.Sprintf("b%d", i), "cat", "/ran-at", "/ran-at-2", "/own.txt")
		lines := strings.SplitN(stdout, "\n", 3)
		if lines[2] != fmt.Sprintf("build %d\n", i) {
			t.Errorf("image b%d: got /own.txt %q, want %q", i, lines[2], fmt.Sprintf("build %d\n", i))
		}
		if i == 0 {
			first = lines[0] + lines[1]
		} else if got := lines[0] + lines[1]; got != first {
			t.Errorf("image b%d: shared steps ran at %q, image b0's at %q: want the same run", i, got, first)
		}
	}
	mustCheck(t, root, "after concurrent builds and prune")
}
