package dockerfile

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
	"github.com/kiln-build/kiln/llb"
)

// RUN --mount=type=…,key=value,…: a participle grammar for the CSV-like
// value, then BuildKit's defaults and checks (instructions/commands_runmount.go).

type mountAST struct {
	Fields []*mountFieldAST `parser:"@@ ( \",\" @@ )*"`
}

type mountFieldAST struct {
	Key   string  `parser:"@Key"`
	Eq    bool    `parser:"( @\"=\""`
	Value *string `parser:"  @(Quoted | Plain)? )?"`
}

// mountParser is built on first use: a grammar built at package init would
// cost every kiln process, a container's init included.
var mountParser = sync.OnceValue(func() *participle.Parser[mountAST] {
	return participle.MustBuild[mountAST](participle.Lexer(lexer.MustStateful(lexer.Rules{
		"Root": {
			{Name: "Key", Pattern: `[A-Za-z][A-Za-z0-9_-]*`},
			{Name: "Eq", Pattern: `=`, Action: lexer.Push("Value")},
			{Name: "Comma", Pattern: `,`},
		},
		"Value": {
			{Name: "Comma", Pattern: `,`, Action: lexer.Pop()},
			{Name: "Quoted", Pattern: `"(?:[^"]|"")*"`},
			{Name: "Plain", Pattern: `[^,"]+`},
		},
	})), participle.Unquote("Quoted"))
})

// mountSpec is one parsed --mount before it becomes an llb.Mount.
type mountSpec struct {
	typ, from, source, target, id, sharing string
	readOnly, roSet, required              bool
	mode, uid, gid                         *uint64
	size                                   int64
}

var mountTypes = []string{llb.MountBind, llb.MountCache, llb.MountTmpfs, llb.MountSecret, llb.MountSSH}

var mountKeys = []string{
	"type", "from", "source", "src", "target", "dst", "destination", "readonly", "ro",
	"readwrite", "rw", "id", "sharing", "required", "size", "mode", "uid", "gid", "env",
}

// parseMount parses one --mount value; values are expanded with the stage's
// variables, except from=, which names a stage and is expanded with the
// global ARGs like COPY --from.
func parseMount(val string, escape rune, lookup lookupFunc) (*mountSpec, error) {
	ast, err := mountParser().ParseString("", val)
	if err != nil {
		return nil, syntaxErrorf("--mount=%s: want type=…,target=…[,key=value…]", val)
	}
	m := &mountSpec{typ: llb.MountBind}
	boolValue := func(f *mountFieldAST) (bool, error) {
		if !f.Eq {
			return true, nil
		}
		v := ""
		if f.Value != nil {
			v = *f.Value
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, syntaxErrorf("--mount: invalid value for %s: %s", f.Key, v)
		}
		return b, nil
	}
	for _, f := range ast.Fields {
		key := strings.ToLower(f.Key)
		switch key {
		case "readonly", "ro":
			if m.readOnly, err = boolValue(f); err != nil {
				return nil, err
			}
			m.roSet = true
			continue
		case "readwrite", "rw":
			rw, err := boolValue(f)
			if err != nil {
				return nil, err
			}
			m.readOnly, m.roSet = !rw, true
			continue
		case "required":
			if m.typ != llb.MountSecret && m.typ != llb.MountSSH {
				return nil, syntaxErrorf("--mount: unexpected key '%s' for mount type '%s'", key, m.typ)
			}
			if m.required, err = boolValue(f); err != nil {
				return nil, err
			}
			continue
		}
		if !f.Eq {
			return nil, syntaxErrorf("--mount: invalid field '%s' must be a key=value pair", f.Key)
		}
		raw := ""
		if f.Value != nil {
			raw = *f.Value
		}
		value := raw
		if key != "from" {
			if value, err = expand(raw, escape, lookup); err != nil {
				return nil, fmt.Errorf("--mount %s: %w", key, err)
			}
		}
		switch key {
		case "type":
			m.typ = strings.ToLower(value)
			if !contains(mountTypes, m.typ) {
				msg := fmt.Sprintf("--mount: unsupported mount type %q", value)
				if s := suggest(m.typ, mountTypes); s != "" {
					msg += fmt.Sprintf(" (did you mean %s?)", s)
				}
				return nil, syntaxErrorf("%s", msg)
			}
		case "from":
			m.from = value
		case "source", "src":
			m.source = value
		case "target", "dst", "destination":
			m.target = value
		case "id":
			m.id = value
		case "sharing":
			m.sharing = strings.ToLower(value)
			if !contains([]string{"shared", "private", "locked"}, m.sharing) {
				return nil, syntaxErrorf("--mount: unsupported sharing value %q, want shared, private or locked", value)
			}
		case "size":
			if m.typ != llb.MountTmpfs {
				return nil, syntaxErrorf("--mount: unexpected key '%s' for mount type '%s'", key, m.typ)
			}
			if m.size, err = parseSize(value); err != nil {
				return nil, syntaxErrorf("--mount: invalid value for size: %s", value)
			}
		case "mode", "uid", "gid":
			base := 10
			if key == "mode" {
				base = 8
			}
			n, err := strconv.ParseUint(value, base, 32)
			if err != nil || (key == "mode" && n > 07777) {
				return nil, syntaxErrorf("--mount: invalid value %s for %s", value, key)
			}
			switch key {
			case "mode":
				m.mode = &n
			case "uid":
				m.uid = &n
			default:
				m.gid = &n
			}
		case "env":
			return nil, fmt.Errorf("--mount: secret env=: %w", ErrNotSupported)
		default:
			msg := fmt.Sprintf("--mount: unexpected key '%s' in '%s=%s'", key, f.Key, raw)
			if s := suggest(key, mountKeys); s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", s)
			}
			return nil, syntaxErrorf("%s", msg)
		}
	}
	if m.typ != llb.MountSecret && m.typ != llb.MountSSH && m.typ != llb.MountCache {
		for i, v := range []*uint64{m.mode, m.uid, m.gid} {
			if v != nil {
				return nil, syntaxErrorf("--mount: %s not allowed for %q type mounts", []string{"mode", "uid", "gid"}[i], m.typ)
			}
		}
	}
	if m.sharing != "" && m.typ != llb.MountCache {
		return nil, syntaxErrorf("--mount: invalid cache sharing set for %s mount", m.typ)
	}
	switch m.typ {
	case llb.MountSSH:
		return nil, fmt.Errorf("--mount=type=ssh: %w", ErrNotSupported)
	case llb.MountSecret:
		if m.from != "" {
			return nil, syntaxErrorf("--mount: secret mount should not have a from")
		}
		if m.source != "" && m.id != "" {
			return nil, syntaxErrorf("--mount: both source and id can't be set")
		}
		if m.source != "" {
			m.id, m.source = m.source, ""
		}
		if m.id == "" && m.target == "" {
			return nil, syntaxErrorf("--mount: invalid secret mount. one of source, target required")
		}
	default:
		if m.target == "" {
			return nil, syntaxErrorf("--mount: target is required for %s mounts", m.typ)
		}
	}
	if m.from != "" && m.typ != llb.MountBind && m.typ != llb.MountCache {
		return nil, syntaxErrorf("--mount: from is only for bind and cache mounts")
	}
	if !m.roSet {
		m.readOnly = m.typ == llb.MountBind || m.typ == llb.MountSecret
	}
	return m, nil
}

// parseSize reads a tmpfs size as Docker's units.RAMInBytes does: bytes,
// or a number with a binary unit (k, m, g, t; "b"/"ib" suffixes allowed).
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "b"), "i")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:n-1]
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || f*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int64(f * float64(mult)), nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// mounts converts RUN's --mount flags into llb.Mounts and the extra inputs
// they reference. Input 0 of the ExecOp is the root filesystem, so sources
// start at 1.
func (d *dispatch) mounts(ins instruction, raw []string) ([]llb.Mount, []*llb.Vertex, error) {
	var (
		out     []llb.Mount
		inputs  []*llb.Vertex
		targets = map[string]bool{}
	)
	input := func(v *llb.Vertex) int {
		for i, in := range inputs {
			if in == v {
				return i + 1
			}
		}
		inputs = append(inputs, v)
		return len(inputs)
	}
	for _, val := range raw {
		m, err := parseMount(val, d.escape, d.scope.lookup)
		if err != nil {
			return nil, nil, err
		}
		if m.typ == llb.MountSecret {
			if m.id == "" {
				m.id = path.Base(m.target)
			}
			if m.target == "" {
				m.target = "/run/secrets/" + m.id
			}
		}
		target := m.target
		if !path.IsAbs(target) {
			target = path.Join(d.cwd(), target)
		}
		target = path.Clean(target)
		if targets[target] {
			return nil, nil, syntaxErrorf("--mount: two mounts at %s", target)
		}
		targets[target] = true
		lm := llb.Mount{Type: m.typ, Target: target, ReadOnly: m.readOnly}
		switch m.typ {
		case llb.MountBind, llb.MountCache:
			if m.typ == llb.MountBind || m.from != "" {
				src := d.c.context
				if m.from != "" {
					if src, err = d.sourceFrom(ins, m.from); err != nil {
						return nil, nil, fmt.Errorf("--mount from=%s: %w", m.from, err)
					}
				}
				lm.Input = input(src)
				lm.Source = path.Clean("/" + m.source)
			}
			if m.typ == llb.MountCache {
				lm.ID = m.id
				if lm.ID == "" {
					lm.ID = target
				}
				lm.Sharing = m.sharing
				if lm.Sharing == "" {
					lm.Sharing = "shared"
				}
				lm.Mode = 0o755
			}
		case llb.MountTmpfs:
			lm.Size = m.size
		case llb.MountSecret:
			lm.ID, lm.Required, lm.Mode = m.id, m.required, 0o400
		}
		if m.mode != nil {
			lm.Mode = uint32(*m.mode)
		}
		if m.uid != nil {
			lm.UID = int(*m.uid)
		}
		if m.gid != nil {
			lm.GID = int(*m.gid)
		}
		out = append(out, lm)
	}
	return out, inputs, nil
}

// sourceFrom is the filesystem a mount's from= (or a trigger's COPY
// --from) names: a stage (converted now if needed; only earlier stages are
// allowed, so this cannot loop) or an image.
func (d *dispatch) sourceFrom(ins instruction, name string) (*llb.Vertex, error) {
	from, err := d.c.copySource(d.s, name)
	if err != nil {
		return nil, err
	}
	if from.stage != nil {
		if err := d.c.convert(from.stage); err != nil {
			return nil, err
		}
		return from.stage.state, nil
	}
	img, err := d.c.resolve(ins, from.image)
	if err != nil {
		return nil, err
	}
	return img.vertex, nil
}
