package main

import (
	"encoding/json"
	"errors"
	"os"
	"time"

	"github.com/kiln-build/kiln/container"
)

// containerJSON is docker inspect's shape for a container, as far as kiln
// has the fields.
type containerJSON struct {
	ID           string `json:"Id"`
	Name         string
	Created      time.Time
	Path         string
	Args         []string
	State        containerStateJSON
	Image        string
	LogPath      string
	RestartCount int
	Config       containerConfigJSON
	HostConfig   hostConfigJSON
}

type containerStateJSON struct {
	Status     container.Status
	Running    bool
	Paused     bool
	Restarting bool
	Pid        int
	ExitCode   int
	Error      string
	StartedAt  time.Time
	FinishedAt time.Time
}

type containerConfigJSON struct {
	Hostname   string
	User       string
	Tty        bool
	OpenStdin  bool
	Env        []string
	Cmd        []string
	Image      string
	WorkingDir string
	StopSignal string `json:",omitempty"`
}

type hostConfigJSON struct {
	NetworkMode   string
	AutoRemove    bool
	RestartPolicy struct {
		Name              string
		MaximumRetryCount int
	}
}

// inspectContainer prints ref as a container if there is one by that name
// or ID; found is false (and nothing printed) otherwise, so that inspect
// falls back to images.
func inspectContainer(g *globals, ref string) (found bool, err error) {
	_, c, err := g.getContainer(ref)
	if errors.Is(err, container.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return true, err
	}
	st, cfg := c.State, c.Config
	out := containerJSON{
		ID: cfg.ID, Name: "/" + cfg.Name, Created: cfg.Created, Image: cfg.ImageID,
		LogPath: c.LogPath(), RestartCount: st.RestartCount,
		State: containerStateJSON{
			Status: st.Status, Running: c.IsRunning(), Paused: st.Status == container.Paused,
			Restarting: st.Status == container.Restarting, ExitCode: st.ExitCode, Error: st.Error,
			StartedAt: st.StartedAt, FinishedAt: st.FinishedAt,
		},
		Config: containerConfigJSON{
			Hostname: cfg.Hostname, User: cfg.User, Tty: cfg.Tty, OpenStdin: cfg.Interactive,
			Env: cfg.Env, Cmd: cfg.Args, Image: cfg.Image, WorkingDir: cfg.Cwd, StopSignal: cfg.StopSignal,
		},
	}
	if len(cfg.Args) > 0 {
		out.Path, out.Args = cfg.Args[0], cfg.Args[1:]
	}
	if c.IsRunning() {
		out.State.Pid = st.Pid
	}
	out.HostConfig.NetworkMode = cfg.Network
	out.HostConfig.AutoRemove = cfg.AutoRemove
	out.HostConfig.RestartPolicy.Name = cfg.Restart.String()
	out.HostConfig.RestartPolicy.MaximumRetryCount = cfg.Restart.MaxRetries
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return true, enc.Encode(out)
}
