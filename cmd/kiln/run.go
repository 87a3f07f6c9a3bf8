package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kiln-build/kiln/container"
	"github.com/kiln-build/kiln/executor"
	"github.com/kiln-build/kiln/solver"
)

// Docker's exit statuses for failures of the runtime itself, as opposed to
// the container's own status.
const (
	exitRuntime  = 125 // kiln could not run the container
	exitNotFound = 127 // the command was not found
)

type runFlags struct {
	rm          bool
	env         []string
	workdir     string
	user        string
	entrypoint  string
	network     string
	aliases     []string // --network-alias
	publish     []string // -p
	publishAll  bool     // -P
	interactive bool
	tty         bool
	hostname    string
	names       executor.Names // --add-host, --dns, --dns-search
	detach      bool
	name        string
	restart     string
	volumes     []string // -v; mounts, tmpfs: --mount, --tmpfs (volume.go)
	mounts      []string
	tmpfs       []string
	init        bool
	security    securityFlags

	entrypointSet bool // --entrypoint was given, even as ""

	limits limitFlags
}

func newRunCommand(g *globals) *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Run a command in a new container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			c.Flags().Visit(func(fl *pflag.Flag) { f.entrypointSet = f.entrypointSet || fl.Name == "entrypoint" })
			return runRun(c.Context(), g, &f, args[0], args[1:])
		},
	}
	fl := c.Flags()
	fl.SetInterspersed(false)
	addContainerFlags(fl, &f)
	fl.BoolVar(&f.rm, "rm", false, "remove the container when it exits")
	fl.BoolVarP(&f.detach, "detach", "d", false, "run the container in the background and print its ID")
	return c
}

// addContainerFlags adds the flags run and create share.
func addContainerFlags(fl *pflag.FlagSet, f *runFlags) {
	fl.StringArrayVarP(&f.env, "env", "e", nil, "set an environment variable (K=V, or K to take it from the environment); repeatable")
	fl.StringVarP(&f.workdir, "workdir", "w", "", "working directory inside the container")
	fl.StringVarP(&f.user, "user", "u", "", "user (name|uid[:group|gid])")
	fl.StringVar(&f.entrypoint, "entrypoint", "", "override the image's ENTRYPOINT")
	fl.StringVar(&f.network, "network", container.DefaultNetwork, "network: bridge, host, none or a network made by kiln network create")
	fl.StringArrayVar(&f.aliases, "network-alias", nil, "another name containers on the same user network know this one by; repeatable")
	fl.StringArrayVarP(&f.publish, "publish", "p", nil, "publish a container port on the host: [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp]; repeatable")
	fl.BoolVarP(&f.publishAll, "publish-all", "P", false, "publish every port the image exposes on a free host port")
	fl.BoolVarP(&f.interactive, "interactive", "i", false, "keep STDIN open")
	fl.BoolVarP(&f.tty, "tty", "t", false, "allocate a pseudo-TTY")
	fl.StringVar(&f.hostname, "hostname", "", "container host name (default: the container ID)")
	fl.StringArrayVar(&f.names.ExtraHosts, "add-host", nil, "add a line to /etc/hosts (NAME:IP); repeatable")
	fl.StringArrayVar(&f.names.DNS, "dns", nil, "nameserver for /etc/resolv.conf; repeatable")
	fl.StringArrayVar(&f.names.DNSSearch, "dns-search", nil, "search domain for /etc/resolv.conf; repeatable")
	fl.StringVar(&f.name, "name", "", "name the container (default: a random one)")
	fl.StringVar(&f.restart, "restart", "no", "restart policy while its supervisor lives: no, on-failure[:N] or always")
	addMountFlags(fl, f)
	fl.BoolVar(&f.init, "init", false, "run an init inside the container that forwards signals and reaps processes")
	f.security.register(fl)
	addLimitFlags(fl, &f.limits)
}

func runRun(ctx context.Context, g *globals, f *runFlags, ref string, args []string) error {
	if f.tty && f.interactive && !f.detach && !isTerminal(os.Stdin) {
		// As Docker: a terminal needs one to read from; piped input would
		// never reach the container as an end of file.
		return &runtimeError{errors.New("-i -t: the input device is not a TTY")}
	}
	cs, c, err := createContainer(ctx, g, f, ref, args)
	if err != nil {
		return &runtimeError{err}
	}
	if f.detach {
		if err := startDetached(g, c); err != nil {
			return err
		}
		fmt.Println(c.Config.ID)
		return nil
	}
	return attach(ctx, cs, c)
}

// attach runs c in the foreground, this process its supervisor, and exits
// with its status.
func attach(ctx context.Context, cs *container.Store, c *container.Container) error {
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(signals)
	sio := superviseIO{stdout: os.Stdout, stderr: os.Stderr, signals: signals}
	if c.Config.Interactive {
		sio.stdin = os.Stdin
	}
	code, err := supervise(ctx, cs, c, sio)
	switch {
	case errors.Is(err, executor.ErrExecNotFound):
		fmt.Fprintln(os.Stderr, "error:", err)
		return &exitError{code: exitNotFound}
	case err != nil:
		return &runtimeError{err}
	case code != 0:
		return &exitError{code: code}
	}
	return nil
}

// createContainer records a new container for ref with f's options.
func createContainer(ctx context.Context, g *globals, f *runFlags, ref string, args []string) (*container.Store, *container.Container, error) {
	if f.name != "" {
		if err := container.ValidateName(f.name); err != nil {
			return nil, nil, fmt.Errorf("--name: %w", err)
		}
	}
	restart, err := container.ParseRestartPolicy(f.restart)
	if err != nil {
		return nil, nil, fmt.Errorf("--restart: %w", err)
	}
	limits, err := f.limits.parse()
	if err != nil {
		return nil, nil, err
	}
	if f.rm && restart.Name != "no" {
		return nil, nil, errors.New("--restart and --rm: a container removed at exit cannot be restarted")
	}
	sec, err := f.security.security(os.ReadFile)
	if err != nil {
		return nil, nil, err
	}
	if sec.Privileged {
		warnPrivileged()
	}
	store, desc, err := g.openImage(ref)
	if err != nil {
		return nil, nil, err
	}
	defer store.Close()
	layers, img, err := solver.Unpack(ctx, store, desc.Digest)
	if err != nil {
		return nil, nil, err
	}
	cfg := img.Config

	entrypoint, cmd := cfg.Entrypoint, cfg.Cmd
	if f.entrypointSet {
		// As Docker: --entrypoint replaces the image's and drops its CMD.
		entrypoint, cmd = nil, nil
		if f.entrypoint != "" {
			entrypoint = []string{f.entrypoint}
		}
	}
	if len(args) > 0 {
		cmd = args
	}
	argv := append(append([]string(nil), entrypoint...), cmd...)
	if len(argv) == 0 {
		return nil, nil, fmt.Errorf("%s: no command specified (the image has no CMD or ENTRYPOINT)", ref)
	}
	env := mergeEnv(cfg.Env, f.env)
	cwd := cfg.WorkingDir
	if f.workdir != "" {
		cwd = f.workdir
	}
	if cwd == "" {
		cwd = "/"
	}
	if !filepath.IsAbs(cwd) {
		return nil, nil, fmt.Errorf("-w %s: the working directory must be absolute", cwd)
	}
	user := cfg.User
	if f.user != "" {
		user = f.user
	}
	id := container.NewID()
	hostname := f.hostname
	if hostname == "" {
		hostname = id[:12]
	}
	var lower []string
	for _, l := range layers {
		if !l.Empty {
			lower = append(lower, store.LayerDir(l.ChainID))
		}
	}
	iid, err := imageID(ctx, store, desc.Digest)
	if err != nil {
		return nil, nil, err
	}
	cs, err := g.containers()
	if err != nil {
		return nil, nil, err
	}
	network, ports, err := runNetwork(cs, f, cfg.ExposedPorts)
	if err != nil {
		return nil, nil, err
	}
	if err := f.names.Validate(); err != nil {
		return nil, nil, err
	}
	mounts, err := containerMounts(ctx, g, f, lower, cfg.Volumes)
	if err != nil {
		return nil, nil, err
	}
	c, err := cs.Create(container.Config{
		ID: id, Name: f.name, Image: ref, ImageID: iid.String(),
		Args: argv, Env: env, Cwd: cwd, User: user, Hostname: hostname, Network: network, Names: f.names,
		Aliases: f.aliases, Ports: ports,
		Tty: f.tty, Interactive: f.interactive, StopSignal: cfg.StopSignal,
		Restart: restart, AutoRemove: f.rm, Lower: lower, Limits: limits, Mounts: mounts, Init: f.init, Security: sec,
	})
	if err != nil {
		_ = removeAnonymousVolumes(cs, &container.Container{Config: container.Config{Mounts: mounts}})
		if errors.Is(err, container.ErrNameInUse) || errors.Is(err, container.ErrInvalidName) {
			return nil, nil, fmt.Errorf("--name: %w", err)
		}
		return nil, nil, err
	}
	return cs, c, nil
}

// runtimeError is a failure of kiln rather than of the container: Docker
// exits 125 for those.
type runtimeError struct{ err error }

func (e *runtimeError) Error() string { return e.err.Error() }
func (e *runtimeError) Unwrap() error { return e.err }

// mergeEnv is base with -e flags applied: K=V sets, K alone takes K from
// kiln's own environment (and is skipped where unset), as Docker does.
func mergeEnv(base, flags []string) []string {
	env := append([]string(nil), base...)
	for _, e := range flags {
		k, _, ok := strings.Cut(e, "=")
		if !ok {
			v, set := os.LookupEnv(k)
			if !set {
				continue
			}
			e = k + "=" + v
		}
		env = setEnv(env, k, e)
	}
	return env
}

func setEnv(env []string, key, kv string) []string {
	for i, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}
