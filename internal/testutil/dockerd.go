package testutil

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// dockerTimeout bounds one docker CLI call, so that a hung engine fails the
// test that asked instead of the whole run.
const dockerTimeout = 2 * time.Minute

// Dockerd is a Docker engine of a test's own, as a peer to compare kiln
// with: its own dockerd and containerd, with every file, socket and mount
// under Dir, no bridge and no iptables rules, so that it touches neither a
// system engine nor the host's network. Containers it runs need
// --network none.
type Dockerd struct {
	// Dir holds everything the engine writes; Stop removes it.
	Dir string
	// Socket is the path of the API socket; Host is the same as an
	// address for `docker -H` or DOCKER_HOST.
	Socket, Host string
	// Driver is the storage driver: overlay2, or vfs where overlayfs
	// cannot be mounted.
	Driver string

	docker string // the docker CLI
	log    string // dockerd's own output
	proc   *os.Process
	done   chan struct{} // closed once dockerd has exited and been waited for

	stopOnce sync.Once
	stopErr  error
}

// Run runs the docker CLI against the engine and returns its stdout. An
// error carries the command line and stderr.
func (d *Dockerd) Run(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dockerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.docker, append([]string{"-H", d.Host}, args...)...)
	// A client config of the user's (a current context, credential
	// helpers) has no business with a private engine.
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(d.Dir, "client"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out after %v", dockerTimeout)
		}
		return stdout.Bytes(), fmt.Errorf("docker %s: %w\n%s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

// logTail is the end of dockerd's output, for errors.
func (d *Dockerd) logTail() string {
	b, err := os.ReadFile(d.log)
	if err != nil {
		return fmt.Sprintf("(no dockerd log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return "dockerd log (" + d.log + "), last lines:\n" + strings.Join(lines, "\n")
}
