package dockerfile

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"runtime"
	"strconv"
	"strings"

	"github.com/kiln-build/kiln/llb"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// FROM: stages, what they are based on, and which stages use which.

// defaultPath is the PATH BuildKit gives an image whose config has none.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// stageName is BuildKit's rule for stage names (after lower-casing).
var stageName = regexp.MustCompile(`^[a-z][a-z0-9-_.]*$`)

// newStage starts a stage at a FROM line. The base name is expanded with the
// global ARGs here, since they can only change before the first FROM.
func (c *converter) newStage(ins instruction) (*stage, error) {
	s := &stage{index: len(c.stages), from: ins, copyFrom: map[int]source{}}
	base, err := expand(ins.args[0], c.escape, c.global.lookup)
	if err != nil {
		return nil, err
	}
	if base == "" {
		return nil, syntaxErrorf("base name %q expands to nothing", ins.args[0])
	}
	s.base = base
	flags, err := parseFlags(ins.flags, fromFlags)
	if err != nil {
		return nil, err
	}
	if p, ok := flags.get("platform"); ok {
		if err := c.checkPlatform(p); err != nil {
			return nil, err
		}
	}
	if len(ins.args) == 3 {
		s.name = strings.ToLower(ins.args[2])
		if !stageName.MatchString(s.name) {
			return nil, syntaxErrorf("invalid name for build stage: %q, name can't start with a number or contain symbols", ins.args[2])
		}
		if prev, ok := c.byName[s.name]; ok {
			return nil, syntaxErrorf("duplicate stage name %q (first defined on line %d)", s.name, prev.from.line)
		}
		c.byName[s.name] = s
	}
	c.stages = append(c.stages, s)
	return s, nil
}

var fromFlags = flagSpec{"platform": flagValue}

// checkPlatform accepts FROM --platform naming the host platform (directly
// or through $BUILDPLATFORM/$TARGETPLATFORM): kiln builds for the host only.
func (c *converter) checkPlatform(raw string) error {
	p, err := expand(raw, c.escape, c.global.lookup)
	if err != nil {
		return fmt.Errorf("--platform: %w", err)
	}
	parts := strings.Split(strings.ToLower(p), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" || (len(parts) == 3 && parts[2] == "") {
		return syntaxErrorf("--platform=%s: invalid platform, want os/arch[/variant] such as linux/amd64", p)
	}
	arch := parts[1]
	switch arch { // Docker's normalisation of common aliases
	case "x86_64", "x86-64":
		arch = "amd64"
	case "aarch64":
		arch = "arm64"
	}
	if parts[0] != "linux" || arch != runtime.GOARCH || (len(parts) == 3 && !(arch == "arm64" && parts[2] == "v8")) {
		return fmt.Errorf("--platform=%s: building for a platform other than the host's: %w", p, ErrNotSupported)
	}
	return nil
}

// link works out, for every stage, which stage or image its FROM and its
// COPY --from lines use, and rejects uses of a stage by itself or by an
// earlier stage: stages may only use stages defined before them, so the
// graph cannot have a cycle.
func (c *converter) link() error {
	for _, s := range c.stages {
		if b, ok := c.byName[strings.ToLower(s.base)]; ok && !strings.EqualFold(s.base, "scratch") {
			if b.index >= s.index {
				return c.errorAt(s.from, orderError(s.base, b, s))
			}
			s.baseStage = b
		}
		for _, ins := range s.cmds {
			if ins.cmd == "RUN" {
				if err := c.checkMountFrom(s, ins); err != nil {
					return c.errorAt(ins, err)
				}
			}
			if ins.cmd != "COPY" {
				continue
			}
			flags, err := parseFlags(ins.flags, copyFlags)
			if err != nil {
				return c.errorAt(ins, err)
			}
			from, ok := flags.get("from")
			if !ok {
				continue
			}
			src, err := c.copySource(s, from)
			if err != nil {
				return c.errorAt(ins, fmt.Errorf("--from=%s: %w", from, err))
			}
			s.copyFrom[ins.line] = src
		}
	}
	return nil
}

// checkMountFrom applies the stage-order rule to RUN --mount from= names.
// They are resolved when the RUN is converted.
func (c *converter) checkMountFrom(s *stage, ins instruction) error {
	flags, err := parseFlags(ins.flags, runFlags)
	if err != nil {
		return err
	}
	for _, val := range flags["mount"] {
		ast, err := mountParser().ParseString("", val)
		if err != nil {
			continue // reported with its line when the RUN is converted
		}
		for _, f := range ast.Fields {
			if strings.EqualFold(f.Key, "from") && f.Value != nil {
				if _, err := c.copySource(s, *f.Value); err != nil {
					return fmt.Errorf("--mount from=%s: %w", *f.Value, err)
				}
			}
		}
	}
	return nil
}

// copySource resolves the name in COPY --from=name within stage s: a stage
// name, a stage index, or else an image. Like FROM, it is expanded with the
// global ARGs only (a decision: the stage graph is fixed before any stage is
// converted).
func (c *converter) copySource(s *stage, from string) (source, error) {
	name, err := expand(from, c.escape, c.global.lookup)
	if err != nil {
		return source{}, err
	}
	if b, ok := c.byName[strings.ToLower(name)]; ok {
		if b.index >= s.index {
			return source{}, orderError(name, b, s)
		}
		return source{stage: b}, nil
	}
	if i, err := strconv.Atoi(name); err == nil {
		switch {
		case i < 0 || i >= len(c.stages):
			return source{}, &nameError{msg: fmt.Sprintf("no stage with index %d", i), sentinel: ErrUnknownStage}
		case i >= s.index:
			return source{}, orderError(name, c.stages[i], s)
		}
		return source{stage: c.stages[i]}, nil
	}
	if name == "" {
		return source{}, syntaxErrorf("--from expands to nothing")
	}
	return source{image: name}, nil
}

func orderError(name string, used, user *stage) error {
	if used == user {
		return &nameError{msg: fmt.Sprintf("stage %q cannot use itself", name), sentinel: ErrStageOrder}
	}
	return &nameError{msg: fmt.Sprintf("stage %q is defined after this one (line %d); a stage can only use stages defined before it",
		name, used.from.line), sentinel: ErrStageOrder}
}

// resolve returns the source vertex and config of an image, asking the
// resolver once per reference.
func (c *converter) resolve(ins instruction, ref string) (image, error) {
	if img, ok := c.images[ref]; ok {
		return img, nil
	}
	if c.opt.Resolver == nil {
		return image{}, fmt.Errorf("image %q: no image resolver", ref)
	}
	var (
		dgst   digest.Digest
		config Image
		err    error
	)
	if cr, ok := c.opt.Resolver.(ConfigResolver); ok {
		dgst, config, err = cr.ResolveConfig(c.ctx, ref)
	} else {
		var oci ocispec.Image
		dgst, oci, err = c.opt.Resolver.ResolveImage(c.ctx, ref)
		config = Image{Image: oci, Config: ImageConfig{ImageConfig: oci.Config}}
		config.Image.Config = ocispec.ImageConfig{}
	}
	if err != nil {
		if errors.Is(err, ErrImageNotFound) || errors.Is(err, fs.ErrNotExist) {
			msg := fmt.Sprintf("no stage or image named %q", ref)
			if s := suggest(strings.ToLower(ref), c.stageNames()); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return image{}, &nameError{msg: msg, sentinel: ErrUnknownStage, cause: err}
		}
		return image{}, fmt.Errorf("resolve image %q: %w", ref, err)
	}
	img := image{
		vertex: llb.NewVertex(&llb.SourceOp{Ref: ref, Digest: dgst}, llb.Meta{
			Name: "[internal] FROM " + ref, File: c.opt.File, Line: ins.line, Text: ins.original,
		}),
		config: config,
	}
	c.images[ref] = img
	return img, nil
}

// newDispatch converts a stage's FROM: the state and config it starts with.
func (c *converter) newDispatch(s *stage) (*dispatch, error) {
	d := &dispatch{c: c, s: s, escape: c.escape, total: 1, index: 1}
	for _, ins := range s.cmds {
		if layerInstruction[ins.cmd] {
			d.total++
		}
	}
	switch {
	case s.baseStage != nil:
		d.state = s.baseStage.state
		d.image = cloneImage(s.baseStage.image)
	case strings.EqualFold(s.base, "scratch"):
		d.image = Image{Image: ocispec.Image{RootFS: ocispec.RootFS{Type: "layers"}}}
	default:
		img, err := c.resolve(s.from, s.base)
		if err != nil {
			return nil, err
		}
		d.state = img.vertex
		d.image = cloneImage(img.config)
	}
	if d.image.Architecture == "" {
		d.image.Architecture = runtime.GOARCH
	}
	if d.image.OS == "" {
		d.image.OS = "linux"
	}
	if d.image.RootFS.Type == "" {
		d.image.RootFS.Type = "layers"
	}
	if _, ok := envGet(d.image.Config.Env, "PATH"); !ok {
		d.image.Config.Env = append(d.image.Config.Env, defaultPath)
	}
	d.scope = newScope(c.global, c.opt.BuildArgs, &d.image.Config.Env)
	return d, nil
}

// cloneImage copies the parts of img a stage changes, so that stages sharing
// a base never see each other's changes.
func cloneImage(img Image) Image {
	out := img
	out.Config.Shell = cloneSlice(img.Config.Shell)
	out.Config.OnBuild = cloneSlice(img.Config.OnBuild)
	if img.Config.Healthcheck != nil {
		hc := *img.Config.Healthcheck
		hc.Test = cloneSlice(hc.Test)
		out.Config.Healthcheck = &hc
	}
	out.Config.Env = append([]string(nil), img.Config.Env...)
	out.Config.Entrypoint = cloneSlice(img.Config.Entrypoint)
	out.Config.Cmd = cloneSlice(img.Config.Cmd)
	out.Config.Labels = cloneMap(img.Config.Labels)
	out.Config.ExposedPorts = cloneMap(img.Config.ExposedPorts)
	out.Config.Volumes = cloneMap(img.Config.Volumes)
	out.RootFS.DiffIDs = cloneSlice(img.RootFS.DiffIDs)
	out.History = cloneSlice(img.History)
	return out
}

func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return nil
	}
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
