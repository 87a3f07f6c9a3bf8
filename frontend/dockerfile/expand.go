package dockerfile

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// Variable expansion follows Docker's (BuildKit's shell.Lex.ProcessWord): a
// word is split into unquoted text, 'single-quoted' text (literal),
// "double-quoted" text (where only $, the escape character and " are
// special) and substitutions: $V, ${V}, ${V:-w}, ${V-w}, ${V:+w}, ${V+w},
// ${V:?w}, ${V?w}. The escape character (\ or the one set by the escape
// directive) makes the next character literal and is removed. Quotes are
// removed too, as Docker does. Undefined variables expand to "".
//
// The pattern forms (${V#p}, ${V%p}, ${V/p/r}) are reported as not supported
// yet rather than expanded wrongly.

// lookupFunc returns a variable's value and whether it is set.
type lookupFunc func(name string) (string, bool)

type wordAST struct {
	Parts []*partAST `parser:"@@*"`
}

type partAST struct {
	Escaped *string    `parser:"  @Escaped"`
	Single  *singleAST `parser:"| @@"`
	Double  *doubleAST `parser:"| @@"`
	Var     *varAST    `parser:"| @@"`
	Text    *string    `parser:"| @(Text | BraceText | Dollar)"`
}

type singleAST struct {
	Text []string `parser:"SQOpen @SQText* SQClose"`
}

type doubleAST struct {
	Parts []*dqPartAST `parser:"DQOpen @@* DQClose"`
}

type dqPartAST struct {
	Escaped *string `parser:"  @DQEscaped"`
	Var     *varAST `parser:"| @@"`
	Text    *string `parser:"| @(DQText | Dollar)"`
}

type varAST struct {
	Simple *string  `parser:"  @Var"`
	Braced *string  `parser:"| @VarBraced"`
	Bad    *string  `parser:"| @VarBad"`
	Open   *string  `parser:"| @VarOpen"`
	Word   *wordAST `parser:"  @@ BraceClose"`
}

// varName is what Docker accepts after $: a name, digits, or one special
// parameter character (which are never set here, so expand to "").
const varName = `(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])`

// newWordParser builds the grammar for one escape character. The lexer is
// stateful because quotes and ${…} change which characters are special.
func newWordParser(escape rune) *participle.Parser[wordAST] {
	e := regexp.QuoteMeta(string(escape))
	vars := []lexer.Rule{
		{Name: "VarOpen", Pattern: `\$\{` + varName + `:?[-+?]`, Action: lexer.Push("Brace")},
		{Name: "VarBraced", Pattern: `\$\{` + varName + `\}`},
		{Name: "VarBad", Pattern: `\$\{[^}]*\}?`},
		{Name: "Var", Pattern: `\$` + varName},
		{Name: "Dollar", Pattern: `\$`},
	}
	word := func(text lexer.Rule) []lexer.Rule {
		r := []lexer.Rule{
			{Name: "Escaped", Pattern: e + `(?s:.)?`},
			{Name: "SQOpen", Pattern: `'`, Action: lexer.Push("SQ")},
			{Name: "DQOpen", Pattern: `"`, Action: lexer.Push("DQ")},
		}
		r = append(r, vars...)
		return append(r, text)
	}
	rules := lexer.Rules{
		"Root": word(lexer.Rule{Name: "Text", Pattern: `(?s)[^'"$` + e + `]+`}),
		"Brace": append([]lexer.Rule{{Name: "BraceClose", Pattern: `\}`, Action: lexer.Pop()}},
			word(lexer.Rule{Name: "BraceText", Pattern: `(?s)[^'"$}` + e + `]+`})...),
		"SQ": {
			{Name: "SQClose", Pattern: `'`, Action: lexer.Pop()},
			{Name: "SQText", Pattern: `(?s)[^']+`},
		},
		"DQ": append(append([]lexer.Rule{
			{Name: "DQClose", Pattern: `"`, Action: lexer.Pop()},
			{Name: "DQEscaped", Pattern: e + `[$"` + e + `]`},
		}, vars...),
			lexer.Rule{Name: "DQText", Pattern: `(?s)[^"$` + e + `]+|` + e}),
	}
	return participle.MustBuild[wordAST](participle.Lexer(lexer.MustStateful(rules)))
}

var wordParsers = struct {
	sync.Mutex
	m map[rune]*participle.Parser[wordAST]
}{m: map[rune]*participle.Parser[wordAST]{}}

func wordParser(escape rune) *participle.Parser[wordAST] {
	wordParsers.Lock()
	defer wordParsers.Unlock()
	p, ok := wordParsers.m[escape]
	if !ok {
		p = newWordParser(escape)
		wordParsers.m[escape] = p
	}
	return p
}

// expand expands word with the variables lookup knows, removing quotes and
// escape characters.
func expand(word string, escape rune, lookup lookupFunc) (string, error) {
	if word == "" {
		return "", nil
	}
	ast, err := wordParser(escape).ParseString("", word)
	if err != nil {
		var ute *participle.UnexpectedTokenError
		if errors.As(err, &ute) && ute.Unexpected.EOF() {
			return "", syntaxErrorf("%q: unexpected end of statement: unterminated quote or ${", word)
		}
		return "", syntaxErrorf("%q: %v", word, err)
	}
	var b strings.Builder
	if err := ast.eval(&b, escape, lookup); err != nil {
		return "", fmt.Errorf("%q: %w", word, err)
	}
	return b.String(), nil
}

func (w *wordAST) eval(b *strings.Builder, escape rune, lookup lookupFunc) error {
	if w == nil {
		return nil
	}
	for _, p := range w.Parts {
		switch {
		case p.Escaped != nil:
			b.WriteString(strings.TrimPrefix(*p.Escaped, string(escape)))
		case p.Single != nil:
			for _, t := range p.Single.Text {
				b.WriteString(t)
			}
		case p.Double != nil:
			for _, d := range p.Double.Parts {
				switch {
				case d.Escaped != nil:
					b.WriteString(strings.TrimPrefix(*d.Escaped, string(escape)))
				case d.Var != nil:
					if err := d.Var.eval(b, escape, lookup); err != nil {
						return err
					}
				case d.Text != nil:
					b.WriteString(*d.Text)
				}
			}
		case p.Var != nil:
			if err := p.Var.eval(b, escape, lookup); err != nil {
				return err
			}
		case p.Text != nil:
			b.WriteString(*p.Text)
		}
	}
	return nil
}

func (v *varAST) eval(b *strings.Builder, escape rune, lookup lookupFunc) error {
	switch {
	case v.Simple != nil:
		val, _ := lookup(strings.TrimPrefix(*v.Simple, "$"))
		b.WriteString(val)
	case v.Braced != nil:
		val, _ := lookup(strings.TrimSuffix(strings.TrimPrefix(*v.Braced, "${"), "}"))
		b.WriteString(val)
	case v.Bad != nil:
		if !strings.HasSuffix(*v.Bad, "}") {
			return syntaxErrorf("missing '}' in %s", *v.Bad)
		}
		if regexp.MustCompile(`^\$\{` + varName + `:?[#%/:=]`).MatchString(*v.Bad) {
			return fmt.Errorf("substitution %s: %w", *v.Bad, ErrNotSupported)
		}
		return syntaxErrorf("bad substitution %s", *v.Bad)
	case v.Open != nil:
		spec := strings.TrimPrefix(*v.Open, "${")
		op := spec[len(spec)-1:]
		spec = spec[:len(spec)-1]
		nullIsUnset := strings.HasSuffix(spec, ":")
		name := strings.TrimSuffix(spec, ":")
		val, set := lookup(name)
		if nullIsUnset && val == "" {
			set = false
		}
		var w strings.Builder
		if err := v.Word.eval(&w, escape, lookup); err != nil {
			return err
		}
		switch op {
		case "-":
			if !set {
				val = w.String()
			}
		case "+":
			val = ""
			if set {
				val = w.String()
			}
		case "?":
			if !set {
				msg := w.String()
				if msg == "" {
					msg = "is not allowed to be unset"
					if nullIsUnset {
						msg = "is not allowed to be unset or empty"
					}
				}
				return syntaxErrorf("%s: %s", name, msg)
			}
		}
		b.WriteString(val)
	}
	return nil
}
