package dockerfile

import (
	"fmt"

	"github.com/kiln-build/kiln/llb"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// dispatch is the state of one stage while its instructions are converted.
type dispatch struct {
	c      *converter
	s      *stage
	escape rune

	state  *llb.Vertex // the filesystem so far; nil for scratch
	image  Image       // the config so far
	scope  *scope
	cmdSet bool // CMD was set in this stage (ENTRYPOINT then keeps it)

	index, total int // progress numbering: FROM is 1, then each RUN and COPY
}

func (d *dispatch) dispatch(ins instruction) error {
	switch ins.cmd {
	case "RUN":
		return d.run(ins)
	case "COPY":
		return d.copy(ins)
	case "ENV":
		return d.env(ins)
	case "ARG":
		return d.arg(ins)
	case "LABEL":
		return d.label(ins)
	case "WORKDIR":
		return d.workdir(ins)
	case "USER":
		return d.user(ins)
	case "CMD":
		return d.cmd(ins)
	case "ENTRYPOINT":
		return d.entrypoint(ins)
	case "EXPOSE":
		return d.expose(ins)
	case "ADD":
		return d.add(ins)
	case "SHELL":
		return d.shell(ins)
	case "STOPSIGNAL":
		return d.stopSignal(ins)
	case "HEALTHCHECK":
		return d.healthcheck(ins)
	case "VOLUME":
		return d.volume(ins)
	case "MAINTAINER":
		return d.maintainer(ins)
	case "ONBUILD":
		return d.onbuild(ins)
	}
	// parse rejects every other instruction before conversion starts.
	return fmt.Errorf("%s: %w", ins.cmd, ErrNotSupported)
}

// history appends a BuildKit-style history entry. Created is left for the
// exporter, which knows the build time and SOURCE_DATE_EPOCH.
func (d *dispatch) history(createdBy string, layer bool) {
	d.image.History = append(d.image.History, ocispec.History{
		CreatedBy:  createdBy,
		Comment:    "buildkit.dockerfile.v0",
		EmptyLayer: !layer,
	})
}

// meta describes the vertex of ins the way BuildKit's progress does:
// "[build 2/4] RUN make", "[2/4] RUN make" when there is a single stage.
func (d *dispatch) meta(ins instruction) llb.Meta {
	d.index++
	prefix := fmt.Sprintf("[%d/%d] ", d.index, d.total)
	if len(d.c.stages) > 1 {
		prefix = fmt.Sprintf("[%s %d/%d] ", d.s.displayName(), d.index, d.total)
	}
	return llb.Meta{Name: prefix + ins.original, File: d.c.opt.File, Line: ins.line, Text: ins.original}
}

// cwd is the working directory of RUN and the base of relative paths.
func (d *dispatch) cwd() string {
	if d.image.Config.WorkingDir == "" {
		return "/"
	}
	return d.image.Config.WorkingDir
}
