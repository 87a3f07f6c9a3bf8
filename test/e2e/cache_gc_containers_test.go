package e2e

import (
	"testing"
)

// A container keeps the layers it runs on through a prune, even when no
// image names them any more (issue 5: "running containers keep what they
// use"); a restart then finds its filesystem whole.
func TestPruneKeepsContainerLayers(t *testing.T) {
	root := newContainerRoot(t)
	build(t, root, newContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo kept > /x\n"}), "-t", "keepme")
	runDetached(t, root, "--name", "k", "keepme", "sleep", "300")
	mustKiln(t, root, "rmi", "keepme")
	mustKiln(t, root, "rmi", "busybox")
	mustKiln(t, root, "prune", "--all")
	mustKiln(t, root, "stop", "-t", "1", "k")
	mustKiln(t, root, "start", "k")
	if got, _ := mustKiln(t, root, "exec", "k", "cat", "/x"); got != "kept\n" {
		t.Errorf("exec cat /x after rmi, prune --all and a restart: got %q, want %q", got, "kept\n")
	}
	mustKiln(t, root, "rm", "-f", "k")
	mustKiln(t, root, "prune", "--all")
	if out, _ := mustKiln(t, root, "system", "df"); out == "" {
		t.Errorf("system df after the container is gone: got no output")
	}
	if _, _, code := kiln(t, root, "system", "check"); code != 0 {
		t.Errorf("system check after prune: got exit %d, want 0", code)
	}
}
