package dockerfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/kiln-build/kiln/llb"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ImageResolver finds images in the local store (the frontend never touches
// the store itself). An image that is not there should be reported with an
// error wrapping ErrImageNotFound (or fs.ErrNotExist).
type ImageResolver interface {
	// ResolveImage returns the manifest digest and the config of ref.
	ResolveImage(ctx context.Context, ref string) (digest.Digest, ocispec.Image, error)
}

// Options says what to build and with which inputs.
type Options struct {
	File      string            // name used in messages and llb.Meta.File, e.g. "Dockerfile"
	Target    string            // stage to build; "" = the last stage
	BuildArgs map[string]string // --build-arg
	Excludes  []string          // .dockerignore patterns, copied into the context's llb.LocalOp
	Network   string            // default network for RUN (llb.NetworkDefault/Host/None) from --network
	Resolver  ImageResolver
}

// Result is the target stage, converted.
type Result struct {
	Root *llb.Vertex // the target stage's filesystem; nil when it is empty (FROM scratch with no RUN/COPY)
	// Config is the target stage's image config as Docker writes it, with
	// history, HEALTHCHECK, ONBUILD and SHELL: what the exporter should
	// write.
	Config Image
	// Image is Config without the fields image-spec lacks (Config.OCI()).
	Image    ocispec.Image
	Stage    string   // the target stage's name (or its index as a string)
	Warnings []string // e.g. unconsumed build args
}

// instruction is one parsed line, copied out of the parser's node so that
// BuildKit's types stay in this file.
type instruction struct {
	cmd      string   // upper case, e.g. "COPY"
	line     int      // 1-based start line
	original string   // the line as written, continuations joined
	flags    []string // e.g. "--from=build"
	args     []string // the parser's argument words
	json     bool     // exec (JSON array) form
	heredocs []heredoc
	// heredocOnly: the arguments are a single "<<EOF" and nothing else.
	heredocOnly bool
	trigger     string // ONBUILD: the trigger as written after ONBUILD
	sub         string // ONBUILD: the trigger's instruction, upper case
	onbuild     bool   // this instruction is an ONBUILD trigger firing
}

// heredoc is one <<NAME document of an instruction.
type heredoc struct {
	name    string
	expand  bool // <<EOF rather than <<"EOF" or <<'EOF'
	chomp   bool // <<-EOF: leading tabs removed
	content string
}

// stage is one FROM and the instructions under it.
type stage struct {
	index int
	name  string // lower case; "" when unnamed
	from  instruction
	cmds  []instruction

	// Filled by the first pass.
	base      string // the base name after expanding global ARGs
	baseStage *stage // when base names an earlier stage
	// copyFrom maps a COPY's line to what its --from names.
	copyFrom map[int]source

	// Filled when the stage is converted.
	converted bool
	state     *llb.Vertex
	image     Image
}

// source is what a COPY --from names: a stage or an image.
type source struct {
	stage *stage
	image string
}

// displayName is the stage's name in progress lines and Result.Stage.
func (s *stage) displayName() string {
	if s.name != "" {
		return s.name
	}
	return "stage-" + strconv.Itoa(s.index)
}

type converter struct {
	ctx    context.Context
	opt    Options
	escape rune

	context  *llb.Vertex // the build context, shared by every COPY from it
	stages   []*stage
	byName   map[string]*stage
	global   *scope           // ARGs before the first FROM
	declared map[string]bool  // every ARG name, for the unconsumed build-arg warning
	images   map[string]image // resolved images by reference
	warnings []string
}

type image struct {
	vertex *llb.Vertex
	config Image
}

// Convert turns dockerfile into the llb DAG and image config of opt.Target.
func Convert(ctx context.Context, dockerfile []byte, opt Options) (*Result, error) {
	if opt.File == "" {
		opt.File = "Dockerfile"
	}
	switch opt.Network {
	case llb.NetworkDefault, llb.NetworkHost, llb.NetworkNone:
	default:
		return nil, fmt.Errorf("network %q: want %q, %q or the default", opt.Network, llb.NetworkHost, llb.NetworkNone)
	}
	c := &converter{
		ctx:      ctx,
		opt:      opt,
		byName:   map[string]*stage{},
		declared: map[string]bool{},
		images:   map[string]image{},
		context: llb.NewVertex(&llb.LocalOp{Name: "context", Excludes: opt.Excludes},
			llb.Meta{Name: "context"}),
	}
	c.global = newScope(nil, opt.BuildArgs, nil)
	c.global.automatic = true
	if err := c.parse(dockerfile); err != nil {
		return nil, err
	}
	if err := c.link(); err != nil {
		return nil, err
	}
	target, err := c.target()
	if err != nil {
		return nil, err
	}
	if err := c.convert(target); err != nil {
		return nil, err
	}
	c.warnUnconsumed()
	return &Result{
		Root:     target.state,
		Config:   target.image,
		Image:    target.image.OCI(),
		Stage:    target.resultName(),
		Warnings: c.warnings,
	}, nil
}

func (s *stage) resultName() string {
	if s.name != "" {
		return s.name
	}
	return strconv.Itoa(s.index)
}

// errorf returns an *Error for ins.
func (c *converter) errorAt(ins instruction, err error) error {
	return &Error{File: c.opt.File, Line: ins.line, Instruction: ins.cmd, Err: err}
}

// instructions Docker has, for "did you mean" and for what is not supported.
var (
	instructionNames = []string{
		"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
		"MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
	}
	knownInstruction = func() map[string]bool {
		m := map[string]bool{}
		for _, n := range instructionNames {
			m[n] = true
		}
		return m
	}()
)

// parse is the first pass over the syntax: it splits the file into global
// ARGs and stages and checks every instruction statically.
func (c *converter) parse(dockerfile []byte) error {
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		var le *parser.LocationError
		line := 0
		if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
			line = le.Locations[0][0].Start.Line
			err = le.Unwrap()
		}
		if err.Error() == "file with no instructions" {
			return &Error{File: c.opt.File, Err: &nameError{msg: "file with no instructions", sentinel: ErrNoStage}}
		}
		return &Error{File: c.opt.File, Line: line, Err: &syntaxError{msg: err.Error()}}
	}
	c.escape = res.EscapeToken
	if syntax, _, loc, ok := parser.DetectSyntax(dockerfile); ok {
		line := 0
		if len(loc) > 0 {
			line = loc[0].Start.Line
		}
		c.warnings = append(c.warnings, fmt.Sprintf("%s:%d: syntax directive %q ignored: kiln uses its built-in Dockerfile frontend", c.opt.File, line, syntax))
	}
	for _, w := range res.Warnings {
		line := 0
		if w.Location != nil {
			line = w.Location.Start.Line
		}
		c.warnings = append(c.warnings, fmt.Sprintf("%s:%d: %s", c.opt.File, line, w.Short))
	}
	var cur *stage
	for _, node := range res.AST.Children {
		ins, err := c.instruction(node)
		if err != nil {
			return err
		}
		switch {
		case ins.cmd == "FROM":
			s, err := c.newStage(ins)
			if err != nil {
				return c.errorAt(ins, err)
			}
			cur = s
		case cur == nil && ins.cmd == "ARG":
			if _, err := c.global.applyArg(ins, c.escape); err != nil {
				return c.errorAt(ins, err)
			}
			c.declareArgs(ins)
		case cur == nil:
			return c.errorAt(ins, &nameError{msg: "only ARG may come before the first FROM", sentinel: ErrNoStage})
		default:
			if ins.cmd == "ARG" {
				c.declareArgs(ins)
			}
			cur.cmds = append(cur.cmds, ins)
		}
	}
	if len(c.stages) == 0 {
		return &Error{File: c.opt.File, Err: &nameError{msg: "no FROM instruction: a Dockerfile needs at least one stage", sentinel: ErrNoStage}}
	}
	return nil
}

// instruction copies node out of the parser's types and checks it
// statically.
func (c *converter) instruction(node *parser.Node) (instruction, error) {
	ins := instruction{
		cmd:      strings.ToUpper(node.Value),
		line:     node.StartLine,
		original: strings.TrimSpace(node.Original),
		flags:    node.Flags,
		json:     node.Attributes["json"],
	}
	for _, h := range node.Heredocs {
		ins.heredocs = append(ins.heredocs, heredoc{name: h.Name, expand: h.Expand, chomp: h.Chomp, content: h.Content})
	}
	if !knownInstruction[ins.cmd] {
		msg := fmt.Sprintf("%v: %s", ErrUnknownInstruction, node.Value)
		if s := suggest(ins.cmd, instructionNames); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		return ins, &Error{File: c.opt.File, Line: ins.line, Err: &nameError{msg: msg, sentinel: ErrUnknownInstruction}}
	}
	if ins.cmd == "ONBUILD" {
		if node.Next == nil || len(node.Next.Children) == 0 {
			return ins, c.errorAt(ins, syntaxErrorf("requires at least one argument"))
		}
		sub := node.Next.Children[0]
		ins.sub = strings.ToUpper(sub.Value)
		if err := checkTrigger(ins.sub); err != nil {
			return ins, c.errorAt(ins, err)
		}
		// Check the trigger now, as Docker does, though it runs later.
		sub.StartLine = node.StartLine
		if _, err := c.instruction(sub); err != nil {
			return ins, err
		}
		ins.trigger = onbuildPrefix.ReplaceAllString(ins.original, "")
		for _, h := range sub.Heredocs {
			ins.trigger += "\n" + h.Content + h.Name
		}
		return ins, nil
	}
	for n := node.Next; n != nil; n = n.Next {
		ins.args = append(ins.args, n.Value)
	}
	ins.heredocOnly = len(ins.heredocs) == 1 && len(ins.args) == 1 && parser.MustParseHeredoc(ins.args[0]) != nil
	if err := c.check(ins); err != nil {
		return ins, c.errorAt(ins, err)
	}
	return ins, nil
}

var onbuildPrefix = regexp.MustCompile(`(?i)^\s*ONBUILD\s*`)

// check validates what can be validated without knowing variables: flags,
// argument counts, forms.
func (c *converter) check(ins instruction) error {
	spec := noFlags
	switch ins.cmd {
	case "FROM":
		spec = fromFlags
	case "RUN":
		spec = runFlags
	case "COPY":
		spec = copyFlags
	case "ADD":
		spec = addFlags
	case "HEALTHCHECK":
		spec = healthcheckFlags
	}
	if _, err := parseFlags(ins.flags, spec); err != nil {
		return err
	}
	switch ins.cmd {
	case "FROM":
		if len(ins.args) != 1 && (len(ins.args) != 3 || !strings.EqualFold(ins.args[1], "AS")) {
			return syntaxErrorf("takes an image or stage and optionally AS name: FROM base [AS name]")
		}
	case "RUN":
		if len(ins.args) == 0 {
			return syntaxErrorf("requires at least one argument")
		}
	case "COPY", "ADD":
		if len(ins.args) < 2 {
			return syntaxErrorf("requires at least two arguments, but only %d provided", len(ins.args))
		}
	case "ENV", "LABEL", "ARG", "EXPOSE", "VOLUME", "MAINTAINER", "HEALTHCHECK":
		if len(ins.args) == 0 {
			return syntaxErrorf("requires at least one argument")
		}
	case "SHELL":
		if !ins.json {
			return syntaxErrorf("requires the arguments to be in JSON form")
		}
		if len(ins.args) == 0 {
			return syntaxErrorf("requires at least one argument")
		}
	case "WORKDIR", "USER", "STOPSIGNAL":
		if len(ins.args) != 1 {
			return syntaxErrorf("requires exactly one argument")
		}
	case "CMD", "ENTRYPOINT":
		if len(ins.args) == 0 && !ins.json {
			return syntaxErrorf("requires at least one argument")
		}
	}
	return nil
}

func (c *converter) declareArgs(ins instruction) {
	for _, w := range ins.args {
		if kv, err := parseArgWord(w); err == nil {
			c.declared[kv.key] = true
		}
	}
}

// target finds the stage to build.
func (c *converter) target() (*stage, error) {
	if c.opt.Target == "" {
		return c.stages[len(c.stages)-1], nil
	}
	if s, ok := c.byName[strings.ToLower(c.opt.Target)]; ok {
		return s, nil
	}
	msg := fmt.Sprintf("target stage %q could not be found", c.opt.Target)
	if s := suggest(strings.ToLower(c.opt.Target), c.stageNames()); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return nil, &Error{File: c.opt.File, Err: &nameError{msg: msg, sentinel: ErrUnknownStage}}
}

func (c *converter) stageNames() []string {
	var names []string
	for _, s := range c.stages {
		if s.name != "" {
			names = append(names, s.name)
		}
	}
	return names
}

// convert converts s after the stages it uses.
func (c *converter) convert(s *stage) error {
	if s.converted {
		return nil
	}
	if s.baseStage != nil {
		if err := c.convert(s.baseStage); err != nil {
			return err
		}
	}
	// In instruction order, not map order: which stage first resolves a
	// shared image decides that vertex's Meta, and dumps must be stable.
	for _, ins := range s.cmds {
		if src := s.copyFrom[ins.line]; src.stage != nil {
			if err := c.convert(src.stage); err != nil {
				return err
			}
		}
	}
	d, err := c.newDispatch(s)
	if err != nil {
		return c.errorAt(s.from, err)
	}
	triggers, err := c.triggers(s, d)
	if err != nil {
		return err
	}
	for _, ins := range triggers {
		if layerInstruction[ins.cmd] {
			d.total++
		}
	}
	for _, ins := range append(triggers, s.cmds...) {
		if err := d.dispatch(ins); err != nil {
			return c.errorAt(ins, err)
		}
	}
	s.state, s.image, s.converted = d.state, d.image, true
	return nil
}

// layerInstruction are the instructions that add an llb op (and a step
// number in progress).
var layerInstruction = map[string]bool{"RUN": true, "COPY": true, "ADD": true}

// triggers returns the ONBUILD triggers s runs right after its FROM, as
// BuildKit does: those of a base image's config, or those a base stage
// declares (a stage's config does not carry the triggers it inherited).
// Either way the new stage's config starts without triggers.
func (c *converter) triggers(s *stage, d *dispatch) ([]instruction, error) {
	exprs := d.image.Config.OnBuild
	if s.baseStage != nil {
		exprs = nil
		for _, ins := range s.baseStage.cmds {
			if ins.cmd == "ONBUILD" {
				exprs = append(exprs, ins.trigger)
			}
		}
	}
	d.image.Config.OnBuild = nil
	var out []instruction
	for _, expr := range exprs {
		res, err := parser.Parse(strings.NewReader(expr))
		if err != nil || len(res.AST.Children) != 1 {
			return nil, c.errorAt(s.from, syntaxErrorf("ONBUILD trigger %q of %s: not a single instruction", expr, s.base))
		}
		node := res.AST.Children[0]
		if err := checkTrigger(strings.ToUpper(node.Value)); err != nil {
			return nil, c.errorAt(s.from, fmt.Errorf("ONBUILD trigger %q of %s: %w", expr, s.base, err))
		}
		ins, err := c.instruction(node)
		if err != nil {
			return nil, c.errorAt(s.from, fmt.Errorf("ONBUILD trigger %q of %s: %w", expr, s.base, errors.Unwrap(err)))
		}
		ins.line, ins.onbuild = s.from.line, true
		if ins.cmd == "ARG" {
			c.declareArgs(ins)
		}
		ins.original = "ONBUILD " + ins.original
		out = append(out, ins)
	}
	return out, nil
}

// warnUnconsumed warns about build args no ARG declares, as Docker does.
func (c *converter) warnUnconsumed() {
	var left []string
	for k := range c.opt.BuildArgs {
		if !c.declared[k] && !builtinArgs[k] {
			left = append(left, k)
		}
	}
	if len(left) > 0 {
		sort.Strings(left)
		c.warnings = append(c.warnings, fmt.Sprintf("One or more build-args %v were not consumed", left))
	}
}

// proxyArgs may be passed without an ARG declaring them (Docker's
// predefined ARGs): RUN sees them, the history does not, and they are not
// warned about. Their order is the order they are added to a RUN's env.
var proxyArgs = []string{
	"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
	"NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
}

var builtinArgs = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range proxyArgs {
		m[k] = true
	}
	for k := range automaticArgs {
		m[k] = true
	}
	return m
}()
