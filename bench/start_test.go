package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// BenchmarkStart compares starting a container that runs `true`:
// `kiln run --rm IMAGE true`, with the default (bridge) network and with
// --network none, against `runc run` of a bundle holding the same image's
// root filesystem (exported by kiln -o type=local) and `docker run --rm
// --network none` of the same image on a private Docker engine, in the
// same run. It reports the median, as the issue asks.
func BenchmarkStart(b *testing.B) {
	setup(b)
	root := filepath.Join(b.TempDir(), "root")
	ctx := helloContext(b)
	kiln(b, root, "build", "-q", "-t", "hello", ctx)

	b.Run("kiln", func(b *testing.B) {
		median(b, func() { kiln(b, root, "run", "--rm", "hello", "true") })
	})
	// runc's default spec gives the container a network namespace of its
	// own with only lo: --network none is kiln's like-for-like.
	b.Run("kiln-netnone", func(b *testing.B) {
		median(b, func() { kiln(b, root, "run", "--rm", "--network", "none", "hello", "true") })
	})

	if run, why := dockerStart(b, root, "hello"); why == "" {
		b.Run("docker", func(b *testing.B) { median(b, func() { run(b) }) })
	} else {
		b.Log(why)
	}

	runc, err := exec.LookPath("runc")
	if err != nil {
		b.Skip("runc is not installed (apt-get install runc): no peer to compare with")
	}
	bundle := filepath.Join(b.TempDir(), "bundle")
	kiln(b, root, "build", "-q", "-o", "type=local,dest="+filepath.Join(bundle, "rootfs"), ctx)
	if out, err := exec.Command(runc, "spec", "--bundle", bundle).CombinedOutput(); err != nil {
		b.Fatalf("runc spec: %v\n%s", err, out)
	}
	setProcess(b, filepath.Join(bundle, "config.json"), []string{"true"})
	b.Run("runc", func(b *testing.B) {
		n := 0
		median(b, func() {
			n++
			cmd := exec.Command(runc, "run", "--bundle", bundle, fmt.Sprintf("kiln-bench-%d-%d", os.Getpid(), n))
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("runc run: %v\n%s", err, out)
			}
		})
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

// median times fn once per iteration and reports the median in ms.
func median(b *testing.B, fn func()) {
	b.Helper()
	var times []time.Duration
	for b.Loop() {
		start := time.Now()
		fn()
		times = append(times, time.Since(start))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
}
