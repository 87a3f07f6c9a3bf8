// Package bench measures what users wait for, by driving the real kiln
// binary: cold and no-op builds of examples/hello and of a generated
// 30-step Dockerfile, and starting a container.
//
// Run with make bench (go test -run '^$' -bench . ./bench/). The benchmarks
// need root, overlayfs and /bin/busybox, and skip saying why without them.
package bench

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiln-build/kiln/internal/testutil"
)

const busyboxPath = "/bin/busybox"

var (
	setupOnce sync.Once
	setupErr  error
	skipWhy   string
	kilnBin   string
	workDir   string
)

// netnsEnv marks the bench binary run again in a network namespace of its
// own (as root), so that the bridge, veths and iptables rules of kiln run's
// default network, and the peers' servers, never touch the host's.
const netnsEnv = "KILN_BENCH_NETNS"

func TestMain(m *testing.M) {
	if os.Geteuid() == 0 && os.Getenv(netnsEnv) == "" {
		os.Exit(testutil.InOwnNetns(netnsEnv))
	}
	if os.Getenv(netnsEnv) != "" {
		if err := testutil.LoopbackUp(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	if workDir != "" {
		os.RemoveAll(workDir)
	}
	for _, d := range benchTemps {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// setup builds kiln once for all benchmarks, or says why they skip.
func setup(b *testing.B) {
	b.Helper()
	setupOnce.Do(func() {
		if os.Geteuid() != 0 {
			skipWhy = "kiln needs root to mount layers and create namespaces"
			return
		}
		if _, err := os.Stat(busyboxPath); err != nil {
			skipWhy = busyboxPath + " is missing (apt-get install busybox-static)"
			return
		}
		if workDir, setupErr = os.MkdirTemp("", "kiln-bench-"); setupErr != nil {
			return
		}
		kilnBin = filepath.Join(workDir, "kiln")
		// Static, as make build makes it.
		build := exec.Command("go", "build", "-o", kilnBin, "github.com/kiln-build/kiln/cmd/kiln")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := build.CombinedOutput()
		if err != nil {
			setupErr = fmt.Errorf("go build ./cmd/kiln: %v\n%s", err, out)
		}
	})
	if skipWhy != "" {
		b.Skip(skipWhy)
	}
	if setupErr != nil {
		b.Fatal(setupErr)
	}
}

func kiln(b *testing.B, root string, args ...string) {
	b.Helper()
	cmd := exec.Command(kilnBin, append([]string{"--root", root}, args...)...)
	cmd.Env = append(os.Environ(), "KILN_ROOT=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		b.Fatalf("kiln %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
}

// helloContext is a copy of examples/hello with busybox in it.
func helloContext(b *testing.B) string {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "hello")
	src := filepath.Join("..", "examples", "hello")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() && e.Name() != "busybox" {
			copyFile(b, filepath.Join(src, e.Name()), filepath.Join(dir, e.Name()))
		}
	}
	copyFile(b, busyboxPath, filepath.Join(dir, "busybox"))
	return dir
}

// generatedContext holds a 30-step Dockerfile mixing RUN, COPY of small
// files and ENV, with its files.
func generatedContext(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	copyFile(b, busyboxPath, filepath.Join(dir, "busybox"))
	var df strings.Builder
	df.WriteString("FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n")
	steps := 3
	for i := 0; steps < 30; i++ {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&df, "RUN echo step %d > /step-%d && ls / > /dev/null\n", i, i)
		case 1:
			name := fmt.Sprintf("file-%02d.txt", i)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Repeat(name+"\n", 64)), 0o644); err != nil {
				b.Fatal(err)
			}
			fmt.Fprintf(&df, "COPY %s /data/%s\n", name, name)
		case 2:
			fmt.Fprintf(&df, "ENV VAR_%d=value-%d\n", i, i)
		}
		steps++
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// benchCold builds dir into a fresh store each iteration.
func benchCold(b *testing.B, dir string) {
	b.Helper()
	roots := b.TempDir()
	var total time.Duration
	for i := 0; b.Loop(); i++ {
		root := filepath.Join(roots, fmt.Sprint(i))
		start := time.Now()
		kiln(b, root, "build", "-q", "-t", "bench", dir)
		total += time.Since(start)
		b.StopTimer()
		os.RemoveAll(root)
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/op")
}

// benchNoop rebuilds dir, already built, each iteration.
func benchNoop(b *testing.B, dir string) {
	b.Helper()
	root := filepath.Join(b.TempDir(), "root")
	kiln(b, root, "build", "-q", "-t", "bench", dir)
	start := time.Now()
	for b.Loop() {
		kiln(b, root, "build", "-q", "-t", "bench", dir)
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/op")
}

func BenchmarkHelloColdBuild(b *testing.B) {
	setup(b)
	benchCold(b, helloContext(b))
}

func BenchmarkHelloNoopRebuild(b *testing.B) {
	setup(b)
	benchNoop(b, helloContext(b))
}

func BenchmarkRunTrue(b *testing.B) {
	setup(b)
	root := filepath.Join(b.TempDir(), "root")
	kiln(b, root, "build", "-q", "-t", "hello", helloContext(b))
	start := time.Now()
	for b.Loop() {
		kiln(b, root, "run", "--rm", "hello", "true")
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/op")
}

func BenchmarkGenerated30ColdBuild(b *testing.B) {
	setup(b)
	benchCold(b, generatedContext(b))
}

func BenchmarkGenerated30NoopRebuild(b *testing.B) {
	setup(b)
	benchNoop(b, generatedContext(b))
}

func copyFile(b *testing.B, src, dst string) {
	b.Helper()
	in, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		b.Fatal(err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
}
