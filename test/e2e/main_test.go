// Package e2e drives the real kiln binary the way users do: kiln build,
// kiln run, kiln images and friends, each test in a store of its own.
//
// The tests need root and overlayfs (kiln mounts layers with it) and
// Debian's busybox-static at /bin/busybox for a base image. Where any of
// those is missing every test skips and says why; CI runs as root, so there
// nothing skips.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-build/kiln/internal/netlink"
	"github.com/kiln-build/kiln/internal/testutil"
)

// busyboxPath is the static busybox the base image is made of.
const busyboxPath = "/bin/busybox"

// commandTimeout bounds every kiln invocation, so that a hung build fails
// its test instead of the whole run.
const commandTimeout = 2 * time.Minute

var (
	// kilnBin is the binary under test, built once by TestMain.
	kilnBin string
	// skipReason is why this machine cannot run the suite ("" if it can).
	skipReason string
	// busyboxContext is a build context holding busybox and a Dockerfile
	// that makes the base image from it; shared read-only by all tests.
	busyboxContext string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Getenv(netnsEnv) != "" {
		// The copy of this binary in a network namespace of its own.
		kilnBin, busyboxContext = os.Getenv(netnsEnv+"_BIN"), os.Getenv(netnsEnv+"_BUSYBOX")
		if err := testutil.LoopbackUp(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
			return 1
		}
		return m.Run()
	}
	skipReason = probe()
	if skipReason != "" {
		fmt.Fprintf(os.Stderr, "e2e: skipping every test: %s\n", skipReason)
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "kiln-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)

	kilnBin = filepath.Join(dir, "kiln")
	build := exec.Command("go", "build", "-o", kilnBin, "github.com/kiln-build/kiln/cmd/kiln")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // static, as make build makes it
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/kiln: %v\n%s", err, out)
		return 1
	}

	busyboxContext = filepath.Join(dir, "busybox-context")
	if err := os.Mkdir(busyboxContext, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	if err := copyFile(busyboxPath, filepath.Join(busyboxContext, "busybox")); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	df := "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"
	if err := os.WriteFile(filepath.Join(busyboxContext, "Dockerfile"), []byte(df), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	return testutil.InOwnNetns(netnsEnv, netnsEnv+"_BIN="+kilnBin, netnsEnv+"_BUSYBOX="+busyboxContext)
}

// netnsEnv marks the test binary run again in a network namespace of its
// own: the bridges, veths and iptables rules that kiln run makes there are
// gone with it when the tests end, whatever happened to them.
const netnsEnv = "KILN_E2E_NETNS"

// probe says why kiln cannot run here, or "" when it can: it needs root,
// an overlay mount in a private mount namespace, and busybox.
func probe() string {
	if os.Geteuid() != 0 {
		return "kiln needs root to mount layers and create namespaces (run as root, as CI does)"
	}
	fs, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return fmt.Sprintf("cannot read /proc/filesystems: %v", err)
	}
	if !bytes.Contains(fs, []byte("\toverlay\n")) {
		// The module may still load on first mount; the real probe below
		// decides.
		if err := exec.Command("modprobe", "overlay").Run(); err != nil {
			return "overlayfs is not available (not in /proc/filesystems, modprobe overlay failed)"
		}
	}
	if err := testutil.OverlayError(); err != nil {
		return fmt.Sprintf("cannot mount overlayfs under %s: %v", os.TempDir(), err)
	}
	if _, err := os.Stat(busyboxPath); err != nil {
		return fmt.Sprintf("%s is missing (apt-get install busybox-static): %v", busyboxPath, err)
	}
	return ""
}

// newRoot skips the test where kiln cannot run, and returns an empty store
// directory for it.
func newRoot(t *testing.T) string {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	root := filepath.Join(t.TempDir(), "root")
	t.Cleanup(func() { removeBridges(t, root) })
	return root
}

// removeBridges deletes the bridge interfaces of root's networks, which
// outlive their containers as Docker's do, so that the next test's
// networks find free subnets.
func removeBridges(t *testing.T, root string) {
	files, _ := filepath.Glob(filepath.Join(root, "networks", "*", "network.json"))
	if len(files) == 0 {
		return
	}
	h, err := netlink.Open()
	if err != nil {
		t.Errorf("remove the test's bridges: %v", err)
		return
	}
	defer h.Close()
	for _, f := range files {
		var n struct{ Bridge string }
		if b, err := os.ReadFile(f); err == nil && json.Unmarshal(b, &n) == nil && n.Bridge != "" {
			if err := h.DeleteLink(n.Bridge); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("remove bridge %s: %v", n.Bridge, err)
			}
		}
	}
}

// newBusyboxRoot is newRoot with the busybox image already built in it,
// tagged "busybox", so Dockerfiles can say FROM busybox.
func newBusyboxRoot(t *testing.T) string {
	t.Helper()
	root := newRoot(t)
	buildBusybox(t, root)
	return root
}

func buildBusybox(t *testing.T, root string) {
	t.Helper()
	mustKiln(t, root, "build", "-q", "-t", "busybox", busyboxContext)
}

// kiln runs the binary against the store at root and returns its output and
// exit status. Whatever the outcome, kiln must never show a Go stack trace.
func kiln(t *testing.T, root string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return kilnStdin(t, root, nil, args...)
}

// kilnStdin is kiln with stdin read from in.
func kilnStdin(t *testing.T, root string, in io.Reader, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := kilnCommand(ctx, root, args...)
	cmd.Stdin = in
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	stdout, stderr = o.String(), e.String()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("kiln %s: timed out after %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), commandTimeout, stdout, stderr)
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("kiln %s: %v", strings.Join(args, " "), err)
	}
	checkNoStackTrace(t, args, stdout+stderr)
	return stdout, stderr, code
}

// kilnCommand is the command for kiln with args against root, without
// anything from the caller's environment choosing another store.
func kilnCommand(ctx context.Context, root string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, kilnBin, append([]string{"--root", root}, args...)...)
	cmd.Env = append(withoutEnv(os.Environ(), "KILN_ROOT"), "TERM=dumb")
	// A hung kiln is killed with its whole process group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd
}

func checkNoStackTrace(t *testing.T, args []string, out string) {
	t.Helper()
	for _, s := range []string{"goroutine ", "panic:"} {
		if strings.Contains(out, s) {
			t.Errorf("kiln %s: output contains %q (a Go stack trace), want none:\n%s", strings.Join(args, " "), s, out)
		}
	}
}

// mustKiln is kiln that fails the test on a non-zero exit status.
func mustKiln(t *testing.T, root string, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, code := kiln(t, root, args...)
	if code != 0 {
		t.Fatalf("kiln %s: got exit status %d, want 0\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout, stderr
}

// build runs kiln build with plain progress on the context dir and returns
// the parsed progress and the image ID (from --iidfile).
func build(t *testing.T, root, dir string, args ...string) (*plainLog, string) {
	t.Helper()
	iid := filepath.Join(t.TempDir(), "iid")
	all := append([]string{"build", "--progress", "plain", "--iidfile", iid}, args...)
	_, stderr := mustKiln(t, root, append(all, dir)...)
	id, err := os.ReadFile(iid)
	if err != nil {
		t.Fatalf("kiln build: --iidfile: %v", err)
	}
	if !strings.HasPrefix(string(id), "sha256:") {
		t.Fatalf("kiln build: --iidfile holds %q, want sha256:…", id)
	}
	return parsePlain(stderr), string(id)
}

// newContext writes files (path → content) into a fresh directory and
// returns it.
func newContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	return dir
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyDir copies a tree of regular files and directories.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		return copyFile(p, target)
	})
}

func withoutEnv(env []string, key string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}
