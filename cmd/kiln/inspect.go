package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/kiln-build/kiln/container"
	"github.com/kiln-build/kiln/network"
)

// containerJSON is docker inspect's shape for a container, as far as kiln
// has the fields.
type containerJSON struct {
	ID              string `json:"Id"`
	Name            string
	Created         time.Time
	Path            string
	Args            []string
	State           containerStateJSON
	Image           string
	LogPath         string
	RestartCount    int
	Config          containerConfigJSON
	HostConfig      hostConfigJSON
	Mounts          []mountJSON // volume.go
	NetworkSettings networkSettingsJSON
}

// networkSettingsJSON is what a running container's network looks like,
// in Docker's field names.
type networkSettingsJSON struct {
	IPAddress   string
	IPPrefixLen int
	Gateway     string
	MacAddress  string
	Ports       map[string][]portJSON
	Networks    map[string]endpointJSON
}

type portJSON struct {
	HostIp   string //nolint:revive // Docker's name
	HostPort string
}

type endpointJSON struct {
	IPAddress   string
	IPPrefixLen int
	Gateway     string
	MacAddress  string
	Aliases     []string
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
	PortBindings  map[string][]portJSON
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
	out.Mounts = inspectMounts(c)
	out.HostConfig.NetworkMode = cfg.Network
	out.HostConfig.PortBindings = portMap(cfg.Ports)
	out.NetworkSettings.Networks = map[string]endpointJSON{}
	if a := st.Net; a != nil && c.IsRunning() {
		out.NetworkSettings.IPAddress, out.NetworkSettings.IPPrefixLen = a.IP, a.Prefix
		out.NetworkSettings.Gateway, out.NetworkSettings.MacAddress = a.Gateway, a.MAC
		out.NetworkSettings.Ports = portMap(st.Ports)
		out.NetworkSettings.Networks[a.Network] = endpointJSON{
			IPAddress: a.IP, IPPrefixLen: a.Prefix, Gateway: a.Gateway, MacAddress: a.MAC,
			Aliases: append([]string{cfg.ID[:12]}, cfg.Aliases...),
		}
	}
	out.HostConfig.AutoRemove = cfg.AutoRemove
	out.HostConfig.RestartPolicy.Name = cfg.Restart.String()
	out.HostConfig.RestartPolicy.MaximumRetryCount = cfg.Restart.MaxRetries
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return true, enc.Encode(out)
}

// portMap is Docker's map of "80/tcp" to the host addresses publishing it.
func portMap(ports []network.PortBinding) map[string][]portJSON {
	m := map[string][]portJSON{}
	for _, p := range ports {
		k := fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto)
		m[k] = append(m[k], portJSON{HostIp: p.HostIP, HostPort: portString(p.HostPort)})
	}
	return m
}

func portString(p int) string {
	if p == 0 {
		return ""
	}
	return strconv.Itoa(p)
}
