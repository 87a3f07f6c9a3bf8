package dockerfile

import (
	"strings"

	"github.com/kiln-build/kiln/llb"
)

// RUN. The command is not expanded here: the shell does it, with the
// environment the ExecOp carries.

// shellArgs applies the default shell to a shell-form command.
func shellArgs(cmd string) []string { return []string{"/bin/sh", "-c", cmd} }

// commandArgs is the argv of RUN, CMD or ENTRYPOINT.
func commandArgs(ins instruction) []string {
	if ins.json {
		return append([]string{}, ins.args...)
	}
	return shellArgs(strings.Join(ins.args, " "))
}

func (d *dispatch) run(ins instruction) error {
	args := commandArgs(ins)
	if len(args) == 0 {
		return syntaxErrorf("requires at least one argument")
	}
	op := &llb.ExecOp{
		Args:    args,
		Env:     d.scope.runEnv(),
		Cwd:     d.cwd(),
		User:    d.image.Config.User,
		Network: d.c.opt.Network,
	}
	d.history("RUN "+d.scope.historyArgs()+strings.Join(args, " ")+" # buildkit", true)
	d.state = llb.NewVertex(op, d.meta(ins), d.state)
	return nil
}
