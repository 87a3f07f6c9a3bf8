package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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
	interactive bool
	tty         bool
	hostname    string
	security    securityFlags

	entrypointSet bool // --entrypoint was given, even as ""
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
	fl.BoolVar(&f.rm, "rm", false, "remove the container when it exits (kiln does not keep containers yet, so this is always so)")
	fl.StringArrayVarP(&f.env, "env", "e", nil, "set an environment variable (K=V, or K to take it from the environment); repeatable")
	fl.StringVarP(&f.workdir, "workdir", "w", "", "working directory inside the container")
	fl.StringVarP(&f.user, "user", "u", "", "user (name|uid[:group|gid])")
	fl.StringVar(&f.entrypoint, "entrypoint", "", "override the image's ENTRYPOINT")
	fl.StringVar(&f.network, "network", "host", "network: host or none")
	fl.BoolVarP(&f.interactive, "interactive", "i", false, "keep STDIN open")
	fl.BoolVarP(&f.tty, "tty", "t", false, "allocate a pseudo-TTY")
	fl.StringVar(&f.hostname, "hostname", "", "container host name (default: the container ID)")
	f.security.register(fl)
	return c
}

func runRun(ctx context.Context, g *globals, f *runFlags, ref string, args []string) error {
	if f.tty && f.interactive && !isTerminal(os.Stdin) {
		// As Docker: a terminal needs one to read from; piped input would
		// never reach the container as an end of file.
		return &runtimeError{errors.New("-i -t: the input device is not a TTY")}
	}
	network, err := networkMode(f.network, false)
	if err != nil {
		return &runtimeError{err}
	}
	sec, err := f.security.security(os.ReadFile)
	if err != nil {
		return &runtimeError{err}
	}
	if sec.Privileged {
		warnPrivileged()
	}
	store, desc, err := g.openImage(ref)
	if err != nil {
		return &runtimeError{err}
	}
	defer store.Close()
	layers, img, err := solver.Unpack(ctx, store, desc.Digest)
	if err != nil {
		return &runtimeError{err}
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
		return &runtimeError{fmt.Errorf("%s: no command specified (the image has no CMD or ENTRYPOINT)", ref)}
	}
	env := append([]string(nil), cfg.Env...)
	for _, e := range f.env {
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
	cwd := cfg.WorkingDir
	if f.workdir != "" {
		cwd = f.workdir
	}
	if cwd == "" {
		cwd = "/"
	}
	if !filepath.IsAbs(cwd) {
		return &runtimeError{fmt.Errorf("-w %s: the working directory must be absolute", cwd)}
	}
	user := cfg.User
	if f.user != "" {
		user = f.user
	}
	id := newID()
	hostname := f.hostname
	if hostname == "" {
		hostname = id[:12]
	}

	dir, err := store.TempDir("container-" + id[:12])
	if err != nil {
		return &runtimeError{err}
	}
	defer os.RemoveAll(dir)
	rootfs := executor.Rootfs{Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work")}
	for _, l := range layers {
		if !l.Empty {
			rootfs.Lower = append(rootfs.Lower, store.LayerDir(l.ChainID))
		}
	}
	for _, d := range []string{rootfs.Upper, rootfs.Work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return &runtimeError{err}
		}
	}

	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(signals)
	spec := executor.Spec{
		Rootfs:   rootfs,
		Args:     argv,
		Env:      env,
		Cwd:      cwd,
		User:     user,
		Hostname: hostname,
		Network:  network,
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
		Tty:      f.tty,
		Signals:  signals,
		Security: sec,
	}
	if f.interactive {
		spec.Stdin = os.Stdin
	}
	err = executor.New(executor.WithTempDir(store.TempDir)).Run(ctx, spec)
	var ee *executor.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return &exitError{code: ee.Code}
	case errors.Is(err, executor.ErrExecNotFound):
		fmt.Fprintln(os.Stderr, "error:", err)
		return &exitError{code: exitNotFound}
	default:
		return &runtimeError{err}
	}
}

// runtimeError is a failure of kiln rather than of the container: Docker
// exits 125 for those.
type runtimeError struct{ err error }

func (e *runtimeError) Error() string { return e.err.Error() }
func (e *runtimeError) Unwrap() error { return e.err }

func setEnv(env []string, key, kv string) []string {
	for i, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}

func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}
