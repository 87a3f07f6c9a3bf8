package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A Dockerfile given with -f takes NAME.dockerignore beside it over the
// context's .dockerignore, and a .dockerignore that excludes the Dockerfile
// and itself still builds, with neither copied (Docker's rules).
func TestLangDockerignoreRules(t *testing.T) {
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{
		"Dockerfile":    "FROM busybox\nCOPY . /ctx/\nRUN ls -a /ctx > /list\n",
		".dockerignore": "Dockerfile\n.dockerignore\nsecret.txt\n",
		"secret.txt":    "s",
		"app.txt":       "a",
		"own.txt":       "o",
	})
	build(t, root, dir, "-t", "ignore-default")
	got, _ := mustKiln(t, root, "run", "--rm", "ignore-default", "cat", "/list")
	for _, name := range []string{"Dockerfile", ".dockerignore", "secret.txt"} {
		if strings.Contains(got, name+"\n") {
			t.Errorf("COPY . with .dockerignore excluding %s: got %q, want it left out", name, got)
		}
	}
	if !strings.Contains(got, "app.txt\n") {
		t.Errorf("COPY .: got %q, want app.txt", got)
	}

	other := t.TempDir()
	df := filepath.Join(other, "app.Dockerfile")
	if err := os.WriteFile(df, []byte("FROM busybox\nCOPY . /ctx/\nRUN ls -a /ctx > /list\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(df+".dockerignore", []byte("own.txt\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	build(t, root, dir, "-f", df, "-t", "ignore-own")
	got, _ = mustKiln(t, root, "run", "--rm", "ignore-own", "cat", "/list")
	if strings.Contains(got, "own.txt\n") || !strings.Contains(got, "secret.txt\n") {
		t.Errorf("-f app.Dockerfile with app.Dockerfile.dockerignore: got %q, want own.txt excluded and secret.txt kept (the context's .dockerignore unused)", got)
	}
}
