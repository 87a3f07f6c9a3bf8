package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Incremental rebuilds, kiln against buildah bud --layers in the same run
// when buildah (and runc) are installed: a no-op rebuild and a one-file
// edit of a 20,000-file context (one COPY of deps/, one of src/, a RUN
// after), and of the generated 30-step Dockerfile. Both tools start from
// scratch with the same busybox base steps, so they do the same work.
// Reported per operation: kiln-ms, buildah-ms and buildah/kiln (how many
// times faster kiln is).

const (
	depsFiles = 15000
	srcFiles  = 5000
	perDir    = 100
)

// bigContext writes deps/ and src/ trees of 20,000 files of ~3 KiB (about
// 64 MB), and a Dockerfile copying each.
func bigContext(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	copyFile(b, busyboxPath, filepath.Join(dir, "busybox"))
	body := bytes.Repeat([]byte("0123456789abcdef"), 200)
	for _, tree := range []struct {
		name string
		n    int
	}{{"deps", depsFiles}, {"src", srcFiles}} {
		for i := range tree.n {
			d := filepath.Join(dir, tree.name, fmt.Sprintf("d%03d", i/perDir))
			if i%perDir == 0 {
				if err := os.MkdirAll(d, 0o755); err != nil {
					b.Fatal(err)
				}
			}
			content := append([]byte(fmt.Sprintf("%s %d\n", tree.name, i)), body...)
			if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%03d.txt", i%perDir)), content, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	df := "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n" +
		"COPY deps /deps\nCOPY src /src\nRUN wc -c /src/d000/f000.txt > /size\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// builder is kiln or buildah over a store of its own.
type builder struct {
	name  string
	build func(b *testing.B, dir string)
}

func kilnBuilder(b *testing.B) builder {
	root := filepath.Join(b.TempDir(), "root")
	return builder{"kiln", func(b *testing.B, dir string) { kiln(b, root, "build", "-q", "-t", "bench", dir) }}
}

// buildahBuilder is nil when buildah or runc is missing.
func buildahBuilder(b *testing.B) *builder {
	bin, err := exec.LookPath("buildah")
	if err != nil {
		return nil
	}
	runc := "/usr/sbin/runc"
	if _, err := os.Stat(runc); err != nil {
		return nil
	}
	// Not b.TempDir: buildah's overlay storage must be taken down first.
	dir, err := os.MkdirTemp("", "kiln-bench-buildah-")
	if err != nil {
		b.Fatal(err)
	}
	global := []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "overlay"}
	b.Cleanup(func() {
		exec.Command(bin, append(global, "rmi", "--all", "--force")...).Run()
		exec.Command("umount", filepath.Join(dir, "root", "overlay")).Run()
		os.RemoveAll(dir)
	})
	return &builder{"buildah", func(b *testing.B, ctx string) {
		args := append(append([]string(nil), global...), "bud", "--layers", "--runtime", runc, "-q", "-t", "bench", ctx)
		cmd := exec.Command(bin, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			b.Fatalf("buildah %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
	}}
}

// compare primes each builder with a build of dir, then times, per
// iteration, prepare (untimed) followed by a build with each builder.
func compare(b *testing.B, dir string, prepare func(i int)) {
	b.Helper()
	builders := []builder{kilnBuilder(b)}
	if bb := buildahBuilder(b); bb != nil {
		builders = append(builders, *bb)
	} else {
		b.Log("buildah or runc not installed: kiln figures only")
	}
	for _, bl := range builders {
		bl.build(b, dir)
	}
	totals := make([]time.Duration, len(builders))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		for j, bl := range builders {
			b.StopTimer()
			if prepare != nil {
				prepare(i*len(builders) + j)
			}
			b.StartTimer()
			start := time.Now()
			bl.build(b, dir)
			totals[j] += time.Since(start)
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(ms(totals[0]), "kiln-ms")
	if len(builders) > 1 {
		b.ReportMetric(ms(totals[1]), "buildah-ms")
		b.ReportMetric(float64(totals[1])/float64(totals[0]), "buildah/kiln")
	}
}

// editFile returns a prepare func that rewrites path (relative to dir) with
// new content each time: one changed file, so COPY of its tree and the
// steps after it rerun.
func editFile(b *testing.B, dir, path string) func(int) {
	return func(i int) {
		p := filepath.Join(dir, path)
		if err := os.WriteFile(p, []byte(fmt.Sprintf("edit %d %d\n", i, time.Now().UnixNano())), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCache20kNoopRebuild(b *testing.B) {
	setup(b)
	compare(b, bigContext(b), nil)
}

func BenchmarkCache20kEditRebuild(b *testing.B) {
	setup(b)
	dir := bigContext(b)
	compare(b, dir, editFile(b, dir, "src/d025/f050.txt"))
}

func BenchmarkCache30StepNoopRebuild(b *testing.B) {
	setup(b)
	compare(b, generatedContext(b), nil)
}

func BenchmarkCache30StepEditRebuild(b *testing.B) {
	setup(b)
	dir := generatedContext(b)
	// file-13.txt is copied by step 13 of 30: the 17 steps after it rerun.
	compare(b, dir, editFile(b, dir, "file-13.txt"))
}
