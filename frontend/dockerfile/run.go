package dockerfile

import (
	"strings"

	"github.com/kiln-build/kiln/llb"
)

// RUN. The command is not expanded here: the shell does it, with the
// environment the ExecOp carries.

var runFlags = flagSpec{
	"mount":    flagList,
	"network":  flagValue,
	"security": flagUnsupported,
	"device":   flagUnsupported,
}

// defaultShell is what shell forms run under until SHELL changes it.
var defaultShell = []string{"/bin/sh", "-c"}

// shellArgs applies the stage's shell (SHELL, or /bin/sh -c) to a
// shell-form command.
func (d *dispatch) shellArgs(cmd string) []string {
	sh := d.image.Config.Shell
	if len(sh) == 0 {
		sh = defaultShell
	}
	return append(append([]string{}, sh...), cmd)
}

// commandArgs is the argv of RUN, CMD or ENTRYPOINT.
func (d *dispatch) commandArgs(ins instruction) []string {
	if ins.json {
		return append([]string{}, ins.args...)
	}
	return d.shellArgs(strings.Join(ins.args, " "))
}

// heredocCommand is what BuildKit runs for a shell-form RUN with heredocs:
// a lone "RUN <<EOF" runs the document itself as the shell command;
// anything else ("RUN python3 <<EOF", several documents) gives the shell
// the command line followed by the documents, so the shell's own
// here-document handling (expansion unless the name is quoted, <<- tab
// stripping) applies.
func (d *dispatch) heredocCommand(ins instruction) ([]string, error) {
	if ins.json || len(ins.args) != 1 {
		return nil, syntaxErrorf("heredoc in an exec-form RUN")
	}
	if ins.heredocOnly {
		data := ins.heredocs[0].content
		if ins.heredocs[0].chomp {
			data = chomp(data)
		}
		if strings.HasPrefix(data, "#!") {
			// As BuildKit: a script with its own interpreter runs as a
			// file, mounted from an inline source (see scriptMount).
			return []string{scriptDir + ins.heredocs[0].name}, nil
		}
		return d.shellArgs(data), nil
	}
	full := ins.args[0]
	for _, h := range ins.heredocs {
		full += "\n" + h.content + h.name
	}
	return d.shellArgs(full), nil
}

// scriptDir is where a RUN here-document with a #! line is mounted, as
// BuildKit does.
const scriptDir = "/dev/pipes/"

// scriptMount is the read-only mount of a RUN here-document that starts
// with #!, and its source; ok is false for every other RUN.
func scriptMount(ins instruction) (m llb.Mount, src *llb.Vertex, ok bool) {
	if !ins.heredocOnly || len(ins.heredocs) != 1 {
		return m, nil, false
	}
	h := ins.heredocs[0]
	data := h.content
	if h.chomp {
		data = chomp(data)
	}
	if !strings.HasPrefix(data, "#!") {
		return m, nil, false
	}
	src = llb.NewVertex(&llb.InlineOp{Files: []llb.InlineFile{{Name: h.name, Data: data, Mode: 0o755}}},
		llb.Meta{Name: "[internal] here-document " + h.name})
	m = llb.Mount{Type: llb.MountBind, Target: scriptDir + h.name, Source: "/" + h.name, ReadOnly: true}
	return m, src, true
}

// chomp removes leading tabs from every line, as <<- does.
func chomp(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimLeft(l, "\t")
	}
	return strings.Join(lines, "")
}

func (d *dispatch) run(ins instruction) error {
	flags, err := parseFlags(ins.flags, runFlags)
	if err != nil {
		return err
	}
	args := d.commandArgs(ins)
	if len(ins.heredocs) > 0 {
		if args, err = d.heredocCommand(ins); err != nil {
			return err
		}
	}
	if len(args) == 0 {
		return syntaxErrorf("requires at least one argument")
	}
	network := d.c.opt.Network
	if v, ok := flags.get("network"); ok {
		switch v {
		case "default":
		case "none":
			network = llb.NetworkNone
		case "host":
			network = llb.NetworkHost
		default:
			return syntaxErrorf("--network=%s: want default, none or host", v)
		}
	}
	mounts, extra, err := d.mounts(ins, flags["mount"])
	if err != nil {
		return err
	}
	if m, src, ok := scriptMount(ins); ok {
		m.Input = len(extra) + 1 // Inputs[0] is the rootfs
		mounts, extra = append(mounts, m), append(extra, src)
	}
	op := &llb.ExecOp{
		Args:    args,
		Env:     d.scope.runEnv(),
		Cwd:     d.cwd(),
		User:    d.image.Config.User,
		Network: network,
		Mounts:  mounts,
	}
	d.history("RUN "+d.scope.historyArgs()+strings.Join(args, " ")+" # buildkit", true)
	d.state = llb.NewVertex(op, d.meta(ins), append([]*llb.Vertex{d.state}, extra...)...)
	return nil
}
