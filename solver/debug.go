package solver

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/kiln-build/kiln/executor"
	"github.com/kiln-build/kiln/llb"
)

// Failed RUN steps kept for debugging (Options.KeepFailed, kiln build
// --on-error=keep): the step's upper directory as the failure left it,
// over the same layers, with the mounts, env, working directory and user
// it ran with, so that a shell started there (DebugSpec) sees what the
// command saw. Secret mounts are left out: their content never touches
// the disk, and a kept container must not change that.

// DebugKeeper is the optional part of a Store that keeps failed steps
// (*cache.Store). dir holds upper/ and work/ and is moved away.
type DebugKeeper interface {
	KeepDebug(dir string, config []byte) (id string, err error)
}

// debugConfig is how a kept step ran.
type debugConfig struct {
	Step     string           `json:"step"` // "Dockerfile:7: RUN make"
	Lower    []string         `json:"lower"`
	Env      []string         `json:"env"`
	Cwd      string           `json:"cwd"`
	User     string           `json:"user,omitempty"`
	Hostname string           `json:"hostname,omitempty"`
	Network  string           `json:"network,omitempty"`
	Mounts   []executor.Mount `json:"mounts,omitempty"`
}

// keepFailed keeps the failed step that ran spec in dir and puts the kept
// container's ID into the VertexError err. A failure to keep it is added
// to the error; the step's own failure stays the one reported.
func (st *state) keepFailed(meta llb.Meta, spec *executor.Spec, dir string, err error) {
	var ve *VertexError
	if !st.opt.KeepFailed || spec == nil || !errors.As(err, &ve) {
		return
	}
	var exit *executor.ExitError
	if !errors.As(ve.Err, &exit) {
		return // the command never ran, or was cancelled: nothing to look at
	}
	dk, ok := st.store.(DebugKeeper)
	if !ok {
		return
	}
	step := meta.Text
	if meta.File != "" {
		step = fmt.Sprintf("%s:%d: %s", meta.File, meta.Line, meta.Text)
	}
	cfg := debugConfig{
		Step: step, Lower: spec.Rootfs.Lower, Env: spec.Env, Cwd: spec.Cwd, User: spec.User,
		Hostname: spec.Hostname, Network: spec.Network,
	}
	for _, m := range spec.Mounts {
		if m.Type != executor.MountSecret {
			cfg.Mounts = append(cfg.Mounts, m)
		}
	}
	b, jerr := json.Marshal(cfg)
	if jerr == nil {
		ve.DebugID, jerr = dk.KeepDebug(dir, b)
	}
	if jerr != nil {
		ve.Err = errors.Join(ve.Err, jerr)
	}
}

// DebugSpec returns the executor Spec of a kept step, kept in dir with
// config (cache.Store.DebugContainer), to run args in; its I/O is left to
// the caller. Writes land in the kept upper directory, so they survive
// from one kiln debug to the next.
func DebugSpec(dir string, config []byte, args []string) (executor.Spec, string, error) {
	var cfg debugConfig
	if err := json.Unmarshal(config, &cfg); err != nil {
		return executor.Spec{}, "", fmt.Errorf("debug container config: %w", err)
	}
	return executor.Spec{
		Rootfs:   executor.Rootfs{Lower: cfg.Lower, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work")},
		Args:     args,
		Env:      cfg.Env,
		Cwd:      cfg.Cwd,
		User:     cfg.User,
		Hostname: cfg.Hostname,
		Network:  cfg.Network,
		Mounts:   cfg.Mounts,
	}, cfg.Step, nil
}
