package container

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-build/kiln/executor"
	"github.com/kiln-build/kiln/network"
)

// Config is what a container was created with; it never changes.
type Config struct {
	ID      string
	Name    string
	Image   string // as the user named it
	ImageID string // the image's config digest
	Created time.Time

	Args     []string // entrypoint and command, resolved
	Env      []string
	Cwd      string
	User     string
	Hostname string
	Names    executor.Names `json:",omitempty"` // --add-host, --dns, --dns-search
	// Network is "host", "none", "bridge" or a user network's name.
	Network string
	// Aliases are more names peers on a user network know it by.
	Aliases []string `json:",omitempty"`
	// Ports are -p's, as asked (HostPort 0: any free port).
	Ports []network.PortBinding `json:",omitempty"`
	Tty   bool
	// Interactive keeps stdin open; only a foreground supervisor has one.
	Interactive bool
	// StopSignal is the image's STOPSIGNAL ("SIGTERM" when empty).
	StopSignal string
	Restart    RestartPolicy
	AutoRemove bool
	// Lower lists the layer directories, bottom first. A garbage collector
	// must keep them while the container exists.
	Lower []string
	// Mounts are -v, --mount, --tmpfs and the image's anonymous volumes.
	Mounts []Mount `json:",omitempty"`
	// Init runs an init as PID 1 that reaps zombies (--init).
	Init bool `json:",omitempty"`
	// Limits are the resource limits every start applies.
	Limits Limits `json:",omitempty"`
	// Security is what --cap-add, --cap-drop, --privileged and
	// --security-opt made of the container, a seccomp profile's content
	// included: start, restart and exec apply it as it was at create.
	Security executor.Security
}

// Bridged says whether the container has a network namespace of its own
// connected to a bridge network.
func (c Config) Bridged() bool {
	return c.Network != "host" && c.Network != "none" && c.Network != ""
}

// Status is a container's state, as docker ps names it.
type Status string

// The statuses a container goes through.
const (
	Created    Status = "created"
	Running    Status = "running"
	Paused     Status = "paused"
	Restarting Status = "restarting"
	Exited     Status = "exited"
)

// State is what the supervisor records as the container runs.
type State struct {
	Status Status
	// Pid is the container's init in the host's pid namespace, and
	// StartTime its start time in clock ticks since boot (field 22 of
	// /proc/PID/stat): together they name one process, even after the pid
	// is reused.
	Pid       int
	StartTime uint64
	// Supervisor is the kiln process watching the container.
	SupervisorPid   int
	SupervisorStart uint64

	ExitCode     int
	Error        string `json:",omitempty"`
	StartedAt    time.Time
	FinishedAt   time.Time
	RestartCount int
	// Net is the running container's address on its bridge network, and
	// Ports its published ports with the host ports picked.
	Net   *Attachment           `json:",omitempty"`
	Ports []network.PortBinding `json:",omitempty"`
}

// RestartPolicy is --restart: no, on-failure[:N] or always.
type RestartPolicy struct {
	Name       string // "no", "on-failure", "always"
	MaxRetries int    // on-failure only; 0 is unlimited
}

// ParseRestartPolicy parses --restart's value.
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	name, n, hasN := strings.Cut(s, ":")
	switch name {
	case "", "no":
		if hasN {
			break
		}
		return RestartPolicy{Name: "no"}, nil
	case "always", "unless-stopped":
		if hasN {
			break
		}
		return RestartPolicy{Name: "always"}, nil
	case "on-failure":
		if !hasN {
			return RestartPolicy{Name: name}, nil
		}
		max, err := strconv.Atoi(n)
		if err != nil || max < 0 {
			return RestartPolicy{}, fmt.Errorf("invalid restart policy %q: the maximum retry count must be a non-negative integer", s)
		}
		return RestartPolicy{Name: name, MaxRetries: max}, nil
	}
	return RestartPolicy{}, fmt.Errorf("invalid restart policy %q: want no, on-failure[:N] or always", s)
}

// ShouldRestart says whether a process that exited with code, after
// restarts restarts, is started again.
func (p RestartPolicy) ShouldRestart(code, restarts int) bool {
	switch p.Name {
	case "always":
		return true
	case "on-failure":
		return code != 0 && (p.MaxRetries == 0 || restarts < p.MaxRetries)
	}
	return false
}

// String is the policy as --restart takes it.
func (p RestartPolicy) String() string {
	if p.Name == "on-failure" && p.MaxRetries > 0 {
		return fmt.Sprintf("on-failure:%d", p.MaxRetries)
	}
	if p.Name == "" {
		return "no"
	}
	return p.Name
}

// Container is one container's record.
type Container struct {
	Config Config
	State  State
	dir    string
	// pending is set when the process is gone but its live supervisor has
	// not recorded the exit yet.
	pending bool
}

// Dir is the container's directory.
func (c *Container) Dir() string { return c.dir }

// LogPath is the container's log, in Docker's json-file format.
func (c *Container) LogPath() string { return filepath.Join(c.dir, "ctr.log") }

// UpperDir and WorkDir are the container's own overlay layer: writes land
// there and vanish with the container.
func (c *Container) UpperDir() string { return filepath.Join(c.dir, "upper") }

// WorkDir is overlayfs's work directory for UpperDir.
func (c *Container) WorkDir() string { return filepath.Join(c.dir, "work") }

// ShortID is the 12-character ID docker shows.
func (c *Container) ShortID() string { return c.Config.ID[:12] }

// NewID returns a random 64-hex-digit container ID.
func NewID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var (
	adjectives = []string{"brave", "calm", "eager", "fond", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nifty", "proud", "quirky", "sharp", "tender", "vivid", "wise", "zen"}
	nouns      = []string{"anvil", "bellows", "brick", "clay", "ember", "flame", "forge", "glaze", "hearth", "kiln", "oven", "pot", "slip", "stoneware", "tile", "vase"}
)

// randomName is a Docker-style adjective_noun name.
func randomName() string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return adjectives[int(b[0])%len(adjectives)] + "_" + nouns[int(b[1])%len(nouns)]
}

// ValidateName checks a container name against Docker's rule,
// [a-zA-Z0-9][a-zA-Z0-9_.-]*.
func ValidateName(s string) error {
	if !ValidName(s) {
		return fmt.Errorf("%w %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", ErrInvalidName, s)
	}
	return nil
}

// ValidName says whether s is a name Docker allows for a container, network or
// volume: [a-zA-Z0-9][a-zA-Z0-9_.-]*.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !alnum && (i == 0 || (r != '_' && r != '.' && r != '-')) {
			return false
		}
	}
	return true
}
