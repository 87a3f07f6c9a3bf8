package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// startPause is how long the spaced starts wait before each one.
const startPause = 50 * time.Millisecond

// BenchmarkStart compares starting a container that runs `true`:
// `kiln run --rm IMAGE true`, with the default (bridge) network and with
// --network none, against `runc run` of a bundle holding the same image's
// root filesystem (exported by kiln -o type=local) and, where dockerd is
// installed, `docker run --rm --network none` of the same image on a
// private Docker engine. It reports medians in ms, as the issue asks: of
// each kind on its own, back to back and spaced by a pause, then
// interleaved, one container of every kind per iteration, so that a machine getting busier or quieter weighs on all of
// them alike (and no kind profits from its own previous start warming up
// the kernel, as runc's cgroup moves do), with the ratio of kiln's
// (--network none, the like-for-like of runc's default spec) to runc's.
func BenchmarkStart(b *testing.B) {
	setup(b)
	root := filepath.Join(b.TempDir(), "root")
	ctx := helloContext(b)
	kiln(b, root, "build", "-q", "-t", "hello", ctx)

	type peer struct {
		name string
		run  func(b *testing.B)
	}
	peers := []peer{
		{"kiln", func(b *testing.B) { kiln(b, root, "run", "--rm", "hello", "true") }},
		{"kiln-netnone", func(b *testing.B) { kiln(b, root, "run", "--rm", "--network", "none", "hello", "true") }},
	}
	if runc, err := exec.LookPath("runc"); err == nil {
		bundle := filepath.Join(b.TempDir(), "bundle")
		kiln(b, root, "build", "-q", "-o", "type=local,dest="+filepath.Join(bundle, "rootfs"), ctx)
		if out, err := exec.Command(runc, "spec", "--bundle", bundle).CombinedOutput(); err != nil {
			b.Fatalf("runc spec: %v\n%s", err, out)
		}
		setProcess(b, filepath.Join(bundle, "config.json"), []string{"true"})
		n := 0
		peers = append(peers, peer{"runc", func(b *testing.B) {
			n++
			cmd := exec.Command(runc, "run", "--bundle", bundle, fmt.Sprintf("kiln-bench-%d-%d", os.Getpid(), n))
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("runc run: %v\n%s", err, out)
			}
		}})
	} else {
		b.Log("runc is not installed (apt-get install runc): no runc to compare with")
	}
	if run, why := dockerStart(b, root, "hello"); why == "" {
		peers = append(peers, peer{"docker", run})
	} else {
		b.Log(why)
	}

	// One kind after another, each on its own: what a loop of starts
	// costs. runc profits here from its previous start: the kernel's
	// cgroup lock it takes to move the init is still warm.
	for _, p := range peers {
		b.Run(p.name, func(b *testing.B) { timeStarts(b, p.run, 0) })
	}
	// The same with a pause of startPause before each start (not timed):
	// the latency of one start, as a user or a CI job makes it.
	for _, p := range peers {
		b.Run("spaced/"+p.name, func(b *testing.B) { timeStarts(b, p.run, startPause) })
	}
	b.Run("interleaved", func(b *testing.B) {
		times := make([][]time.Duration, len(peers))
		for b.Loop() {
			for i, p := range peers {
				start := time.Now()
				p.run(b)
				times[i] = append(times[i], time.Since(start))
			}
		}
		medians := map[string]float64{}
		for i, p := range peers {
			medians[p.name] = medianMs(times[i])
			b.ReportMetric(medians[p.name], p.name+"-median-ms")
		}
		if r, ok := medians["runc"]; ok {
			b.ReportMetric(medians["kiln-netnone"]/r, "kiln-netnone/runc")
		}
	})
}

// setProcess makes a runc spec run args without a terminal.
func setProcess(b *testing.B, path string, args []string) {
	b.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		b.Fatal(err)
	}
	proc, _ := spec["process"].(map[string]any)
	if proc == nil {
		b.Fatalf("runc spec has no process")
	}
	proc["args"], proc["terminal"] = args, false
	out, err := json.Marshal(spec)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		b.Fatal(err)
	}
}

// timeStarts times run once per iteration, after an untimed pause, and
// reports the median.
func timeStarts(b *testing.B, run func(*testing.B), pause time.Duration) {
	var times []time.Duration
	for b.Loop() {
		if pause > 0 {
			b.StopTimer()
			time.Sleep(pause)
			b.StartTimer()
		}
		start := time.Now()
		run(b)
		times = append(times, time.Since(start))
	}
	b.ReportMetric(medianMs(times), "median-ms")
}

// medianMs is the median of times, in ms.
func medianMs(times []time.Duration) float64 {
	sorted := slices.Clone(times)
	slices.Sort(sorted)
	return float64(sorted[len(sorted)/2].Microseconds()) / 1000
}
