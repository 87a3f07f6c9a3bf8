package cache

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestSessionHelper is not a test: TestKilledSession runs the test binary
// with KILN_CACHE_HELPER_ROOT set to get a second process holding a Store.
func TestSessionHelper(t *testing.T) {
	root := os.Getenv("KILN_CACHE_HELPER_ROOT")
	if root == "" {
		t.Skip("helper process only")
	}
	s, err := Open(root)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	d, err := s.TempDir("work-")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println(d)
	select {} // until killed
}

// TestKilledSession: a live Store in another process keeps its temp dir
// through our Open; once that process is killed -9, the next Open removes it.
func TestKilledSession(t *testing.T) {
	needLinux(t)
	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSessionHelper$")
	cmd.Env = append(os.Environ(), "KILN_CACHE_HELPER_ROOT="+root)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	dir := line[:len(line)-1]
	if filepath.Dir(filepath.Dir(filepath.Dir(dir))) != root {
		t.Fatalf("helper said %q, want a temp dir under %s", line, root)
	}

	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); err != nil {
		t.Errorf("live process's temp dir after Open: got %v, want kept", err)
	}
	s.Close()

	cmd.Process.Kill()
	cmd.Wait()
	s = openStore(t, root)
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("killed process's temp dir after Open: got %v, want removed", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "tmp")); len(ents) != 0 {
		t.Errorf("tmp/: got %d entries, want none (ours is made on first write)", len(ents))
	}
	if _, err := s.TempDir("x-"); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "tmp")); len(ents) != 2 {
		t.Errorf("tmp/ after TempDir: got %d entries, want 2 (our session and its lock)", len(ents))
	}
}
