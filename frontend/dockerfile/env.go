package dockerfile

import (
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// ENV, ARG and LABEL, and the scope variables are expanded in.
//
// Scoping follows Docker: ARGs before the first FROM are global and usable in
// FROM lines; a stage sees a global ARG only after redeclaring it with
// "ARG NAME"; ARG values come from --build-arg first, then the declared
// default, then (for a bare redeclaration) the global value; ENV always wins
// over an ARG of the same name.

// argWordAST is one ARG word: NAME or NAME=value (the value still quoted and
// unexpanded).
type argWordAST struct {
	Key   string  `parser:"@Key"`
	Eq    bool    `parser:"( @\"=\""`
	Value *string `parser:"  @Value? )?"`
}

// argWordParser is built on first use: a grammar built at package init would
// cost every kiln process, a container's init included.
var argWordParser = sync.OnceValue(func() *participle.Parser[argWordAST] {
	return participle.MustBuild[argWordAST](participle.Lexer(lexer.MustStateful(lexer.Rules{
		"Root": {
			{Name: "Key", Pattern: `[^=]+`},
			{Name: "Eq", Pattern: `=`, Action: lexer.Push("Value")},
		},
		"Value": {
			{Name: "Value", Pattern: `(?s).+`},
		},
	})))
})

type argWord struct {
	key   string
	value *string // nil for "ARG NAME"
}

func parseArgWord(word string) (argWord, error) {
	a, err := argWordParser().ParseString("", word)
	if err != nil {
		return argWord{}, syntaxErrorf("%s: want NAME or NAME=value; ARG names can not be blank", word)
	}
	w := argWord{key: a.Key}
	if a.Eq {
		v := ""
		if a.Value != nil {
			v = *a.Value
		}
		w.value = &v
	}
	return w, nil
}

// hostPlatform is the one platform kiln builds for: the host's.
const hostPlatform = "linux/" + runtime.GOARCH

// automaticArgs are BuildKit's platform ARGs: set in the global scope
// without a declaration, and in a stage once it declares them. kiln builds
// on and for the host, so target and build platform are the same. The
// variants are empty as BuildKit's are for amd64 (and for arm64, whose
// default variant v8 BuildKit leaves out).
var automaticArgs = map[string]string{
	"TARGETPLATFORM": hostPlatform,
	"TARGETOS":       "linux",
	"TARGETARCH":     runtime.GOARCH,
	"TARGETVARIANT":  "",
	"BUILDPLATFORM":  hostPlatform,
	"BUILDOS":        "linux",
	"BUILDARCH":      runtime.GOARCH,
	"BUILDVARIANT":   "",
}

// scope is the variables instructions are expanded with.
type scope struct {
	parent    *scope            // the global scope, for a stage's bare "ARG NAME"
	buildArgs map[string]string // --build-arg
	env       *[]string         // the stage's config Env; nil for the global scope
	args      []argWord         // declared ARGs in order; value nil when unset
	automatic bool              // knows automaticArgs without declaration
}

func newScope(parent *scope, buildArgs map[string]string, env *[]string) *scope {
	return &scope{parent: parent, buildArgs: buildArgs, env: env}
}

// lookup is the lookupFunc for expansion: ENV, then ARGs with a value.
func (s *scope) lookup(name string) (string, bool) {
	if s.env != nil {
		if v, ok := envGet(*s.env, name); ok {
			return v, true
		}
	}
	return s.argValue(name)
}

func (s *scope) argValue(name string) (string, bool) {
	for i := len(s.args) - 1; i >= 0; i-- {
		if s.args[i].key == name {
			if s.args[i].value == nil {
				return "", false
			}
			return *s.args[i].value, true
		}
	}
	if s.automatic {
		v, ok := automaticArgs[name]
		return v, ok
	}
	return "", false
}

// applyArg applies an ARG instruction and returns its history text. All
// defaults are expanded before any is set, as Docker expands an instruction
// before it applies it.
func (s *scope) applyArg(ins instruction, escape rune) (string, error) {
	words := make([]argWord, 0, len(ins.args))
	for _, raw := range ins.args {
		w, err := parseArgWord(raw)
		if err != nil {
			return "", err
		}
		if w.value != nil {
			v, err := expand(*w.value, escape, s.lookup)
			if err != nil {
				return "", err
			}
			w.value = &v
		}
		words = append(words, w)
	}
	history := make([]string, 0, len(words))
	for _, w := range words {
		if w.value != nil {
			history = append(history, w.key+"="+*w.value)
		} else {
			history = append(history, w.key)
		}
		val := w.value
		if v, ok := s.buildArgs[w.key]; ok {
			val = &v
		} else if val == nil {
			if s.parent != nil {
				if v, ok := s.parent.argValue(w.key); ok {
					val = &v
				} else if v, ok := automaticArgs[w.key]; ok {
					val = &v
				}
			} else if v, ok := automaticArgs[w.key]; ok {
				val = &v
			}
		}
		s.setArg(argWord{key: w.key, value: val})
	}
	return "ARG " + strings.Join(history, " "), nil
}

func (s *scope) setArg(w argWord) {
	for i := range s.args {
		if s.args[i].key == w.key {
			s.args[i] = w
			return
		}
	}
	s.args = append(s.args, w)
}

// runEnv is the environment of a RUN: the config's Env, then the ARGs that
// have a value and no ENV of the same name, as Docker passes them, then the
// proxy build args no ARG declares (Docker passes those without a
// declaration, and keeps them out of the history).
func (s *scope) runEnv() []string {
	env := append([]string{}, *s.env...)
	declared := map[string]bool{}
	for _, a := range s.args {
		declared[a.key] = true
		if a.value == nil {
			continue
		}
		if _, ok := envGet(*s.env, a.key); ok {
			continue
		}
		env = append(env, a.key+"="+*a.value)
	}
	for _, k := range proxyArgs {
		v, ok := s.buildArgs[k]
		if !ok || declared[k] {
			continue
		}
		if _, ok := envGet(*s.env, k); ok {
			continue
		}
		env = append(env, k+"="+v)
	}
	return env
}

// historyArgs is Docker's "|N K=V …" prefix of a RUN's history entry: the
// stage's ARGs with a value (the ENV value where ENV overrides one).
func (s *scope) historyArgs() string {
	var kv []string
	for _, a := range s.args {
		if a.value == nil {
			continue
		}
		v, ok := envGet(*s.env, a.key)
		if !ok {
			v = *a.value
		}
		kv = append(kv, a.key+"="+v)
	}
	if len(kv) == 0 {
		return ""
	}
	return "|" + strconv.Itoa(len(kv)) + " " + strings.Join(kv, " ") + " "
}

func envGet(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		k, v, _ := strings.Cut(env[i], "=")
		if k == key {
			return v, true
		}
	}
	return "", false
}

func envSet(env []string, key, value string) []string {
	for i, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			env[i] = key + "=" + value
			return env
		}
	}
	return append(env, key+"="+value)
}

// pairs expands the key/value pairs of ENV or LABEL (the parser gives them
// as key, value, separator triples) with the variables before the
// instruction.
func (d *dispatch) pairs(ins instruction) ([][2]string, error) {
	var out [][2]string
	for i := 0; i+1 < len(ins.args); i += 3 {
		k, err := expand(ins.args[i], d.escape, d.scope.lookup)
		if err != nil {
			return nil, err
		}
		if k == "" {
			return nil, syntaxErrorf("%s names can not be blank", ins.cmd)
		}
		v, err := expand(ins.args[i+1], d.escape, d.scope.lookup)
		if err != nil {
			return nil, err
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

func (d *dispatch) env(ins instruction) error {
	kvs, err := d.pairs(ins)
	if err != nil {
		return err
	}
	hist := "ENV"
	for _, kv := range kvs {
		d.image.Config.Env = envSet(d.image.Config.Env, kv[0], kv[1])
		hist += " " + kv[0] + "=" + kv[1]
	}
	d.history(hist, false)
	return nil
}

func (d *dispatch) label(ins instruction) error {
	kvs, err := d.pairs(ins)
	if err != nil {
		return err
	}
	if d.image.Config.Labels == nil {
		d.image.Config.Labels = map[string]string{}
	}
	hist := "LABEL"
	for _, kv := range kvs {
		d.image.Config.Labels[kv[0]] = kv[1]
		hist += " " + kv[0] + "=" + kv[1]
	}
	d.history(hist, false)
	return nil
}

func (d *dispatch) arg(ins instruction) error {
	hist, err := d.scope.applyArg(ins, d.escape)
	if err != nil {
		return err
	}
	d.history(hist, false)
	return nil
}
