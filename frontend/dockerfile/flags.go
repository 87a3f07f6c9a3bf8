package dockerfile

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"

	didyoumean "github.com/kiln-build/kiln/internal/suggest"
)

// The parser hands over an instruction's flags as words with quotes already
// removed ("--from=build", "--link"). The grammar splits each into a name and
// an optional value; which names an instruction takes is a flagSpec.

type flagAST struct {
	Name  string  `parser:"\"--\" @Name"`
	Eq    bool    `parser:"( @\"=\""`
	Value *string `parser:"  @Value? )?"`
}

// flagParser is built on first use: a grammar built at package init would
// cost every kiln process, a container's init included.
var flagParser = sync.OnceValue(func() *participle.Parser[flagAST] {
	return participle.MustBuild[flagAST](participle.Lexer(lexer.MustStateful(lexer.Rules{
		"Root": {
			{Name: "Dashes", Pattern: `--`},
			{Name: "Name", Pattern: `[A-Za-z][A-Za-z0-9-]*`},
			{Name: "Eq", Pattern: `=`, Action: lexer.Push("Value")},
		},
		"Value": {
			{Name: "Value", Pattern: `(?s).+`},
		},
	})))
})

// flagKind says what an instruction does with a flag.
type flagKind int

const (
	flagValue       flagKind = iota // takes a non-empty value, once
	flagList                        // takes a non-empty value, may be repeated (--mount, --exclude)
	flagBool                        // --name alone means true; --name=true|false
	flagUnsupported                 // Docker has it; kiln does not yet
)

// flagSpec lists the flags one instruction knows.
type flagSpec map[string]flagKind

var noFlags = flagSpec{}

// flagValues are the values of the flags given, by name, in order. A bool
// flag's value is "true" or "false".
type flagValues map[string][]string

// get returns the value of a single-valued flag and whether it was given.
func (f flagValues) get(name string) (string, bool) {
	v, ok := f[name]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[len(v)-1], true
}

// bool returns a bool flag's value, false when not given.
func (f flagValues) bool(name string) bool {
	v, _ := f.get(name)
	return v == "true"
}

// parseFlags checks raw against spec and returns the values of the supported
// flags by name. Errors name the flag: "--mount: not supported yet",
// "--form: unknown flag (did you mean --from?)".
func parseFlags(raw []string, spec flagSpec) (flagValues, error) {
	out := flagValues{}
	for _, word := range raw {
		f, err := flagParser().ParseString("", word)
		if err != nil {
			return nil, syntaxErrorf("%s: malformed flag, want --name=value", word)
		}
		kind, ok := spec[f.Name]
		if !ok {
			known := make([]string, 0, len(spec))
			for k := range spec {
				known = append(known, k)
			}
			sort.Strings(known)
			msg := fmt.Sprintf("--%s: %v", f.Name, ErrUnknownFlag)
			if s := suggest(f.Name, known); s != "" {
				msg += fmt.Sprintf(" (did you mean --%s?)", s)
			}
			return nil, &nameError{msg: msg, sentinel: ErrUnknownFlag}
		}
		if kind == flagUnsupported {
			return nil, fmt.Errorf("--%s: %w", f.Name, ErrNotSupported)
		}
		if _, dup := out[f.Name]; dup && kind != flagList {
			return nil, syntaxErrorf("--%s: flag given more than once", f.Name)
		}
		if kind == flagBool {
			v := "true"
			if f.Eq {
				if f.Value == nil {
					return nil, syntaxErrorf("--%s: want --%s, --%s=true or --%s=false", f.Name, f.Name, f.Name, f.Name)
				}
				b, err := strconv.ParseBool(*f.Value)
				if err != nil {
					return nil, syntaxErrorf("--%s=%s: want true or false", f.Name, *f.Value)
				}
				v = strconv.FormatBool(b)
			}
			out[f.Name] = []string{v}
			continue
		}
		if !f.Eq || f.Value == nil || strings.TrimSpace(*f.Value) == "" {
			return nil, syntaxErrorf("--%s: flag needs a value (--%s=…)", f.Name, f.Name)
		}
		out[f.Name] = append(out[f.Name], *f.Value)
	}
	return out, nil
}

// suggest returns the candidate closest to name, or "" when none is close
// enough to be a plausible typo.
func suggest(name string, candidates []string) string {
	return didyoumean.Closest(name, candidates)
}
