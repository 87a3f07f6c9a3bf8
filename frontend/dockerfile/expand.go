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
// ${V:?w}, ${V?w}, and the pattern forms ${V#p}, ${V##p}, ${V%p}, ${V%%p},
// ${V/p/r}, ${V//p/r} (p a shell pattern with * and ?; quoted or escaped
// characters in it are literal). The escape character (\ or the one set by
// the escape directive) makes the next character literal and is removed.
// Quotes are removed too, as Docker does. Undefined variables expand to "".
// Substring forms (${V:1:2}) and assignment (${V:=w}) are reported as not
// supported yet, as BuildKit does not have them either.

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
		{Name: "VarOpen", Pattern: `\$\{` + varName + `(?::?[-+?]|##?|%%?|//?)`, Action: lexer.Push("Brace")},
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
		name, op := splitOpen(*v.Open)
		val, set := lookup(name)
		if op[0] == '#' || op[0] == '%' || op[0] == '/' {
			return v.evalPattern(b, op, val, escape, lookup)
		}
		nullIsUnset := strings.HasPrefix(op, ":")
		op = strings.TrimPrefix(op, ":")
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

// splitOpen splits "${NAME:-" into the name and the operator (":-").
func splitOpen(open string) (name, op string) {
	spec := strings.TrimPrefix(open, "${")
	i := strings.IndexAny(spec, ":-+?#%/")
	if i == 0 { // a special parameter such as $# or $-
		i = 1
	}
	return spec[:i], spec[i:]
}

// evalPattern expands the pattern forms. The word inside the braces is
// turned into a shell pattern in which quoted and escaped * and ? are
// literal (escaped with a backslash), then into a regular expression
// exactly as BuildKit's shell.Lex does.
func (v *varAST) evalPattern(b *strings.Builder, op, val string, escape rune, lookup lookupFunc) error {
	var pat, repl strings.Builder
	dst := &pat
	split := false
	var parts []*partAST
	if v.Word != nil {
		parts = v.Word.Parts
	}
	for _, p := range parts {
		if op[0] == '/' && !split && p.Text != nil {
			if before, after, ok := strings.Cut(*p.Text, "/"); ok {
				pat.WriteString(before)
				split, dst = true, &repl
				repl.WriteString(after)
				continue
			}
		}
		if dst == &repl {
			if err := (&wordAST{Parts: []*partAST{p}}).eval(dst, escape, lookup); err != nil {
				return err
			}
			continue
		}
		if err := p.evalPattern(dst, escape, lookup); err != nil {
			return err
		}
	}
	if op[0] == '/' && !split {
		return syntaxErrorf("missing '/' in ${}")
	}
	greedy := len(op) == 2
	switch op[0] {
	case '#':
		re, err := shellPatternRegexp(pat.String(), greedy, true)
		if err != nil {
			return err
		}
		if idx := re.FindStringIndex(val); idx != nil {
			val = val[idx[1]:]
		}
	case '%':
		// Regular expressions cannot find the shortest rightmost match, so
		// match the reversed pattern against the reversed value.
		re, err := shellPatternRegexp(reversePattern(pat.String()), greedy, true)
		if err != nil {
			return err
		}
		r := reverseString(val)
		if idx := re.FindStringIndex(r); idx != nil {
			r = r[idx[1]:]
		}
		val = reverseString(r)
	case '/':
		re, err := shellPatternRegexp(pat.String(), true, false)
		if err != nil {
			return err
		}
		if greedy {
			val = re.ReplaceAllLiteralString(val, repl.String())
		} else if idx := re.FindStringIndex(val); idx != nil {
			val = val[:idx[0]] + repl.String() + val[idx[1]:]
		}
	}
	b.WriteString(val)
	return nil
}

// patternLiteral escapes the pattern characters of literal text.
func patternLiteral(b *strings.Builder, s string) {
	for _, r := range s {
		if r == '*' || r == '?' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
}

// evalPattern writes one part of a pattern word: unquoted text and
// variables keep their * and ?; escaped and quoted text is literal.
func (p *partAST) evalPattern(b *strings.Builder, escape rune, lookup lookupFunc) error {
	switch {
	case p.Escaped != nil:
		patternLiteral(b, strings.TrimPrefix(*p.Escaped, string(escape)))
	case p.Text != nil:
		b.WriteString(*p.Text)
	case p.Var != nil:
		return p.Var.eval(b, escape, lookup)
	default:
		var lit strings.Builder
		if err := (&wordAST{Parts: []*partAST{p}}).eval(&lit, escape, lookup); err != nil {
			return err
		}
		patternLiteral(b, lit.String())
	}
	return nil
}

// shellPatternRegexp is BuildKit's convertShellPatternToRegex: * is the
// shortest (or, greedy, longest) string, ? one character, \ escapes.
func shellPatternRegexp(pattern string, greedy, anchored bool) (*regexp.Regexp, error) {
	var out strings.Builder
	if anchored {
		out.WriteByte('^')
	}
	star := ".*?"
	if greedy {
		star = ".*"
	}
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; r {
		case '*':
			out.WriteString(star)
		case '?':
			out.WriteByte('.')
		case '\\':
			if i+1 < len(rs) {
				i++
				out.WriteString(regexp.QuoteMeta(string(rs[i])))
			} else {
				out.WriteString(`\\`)
			}
		default:
			out.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	re, err := regexp.Compile(out.String())
	if err != nil {
		return nil, syntaxErrorf("invalid pattern (%s) in substitution: %v", pattern, err)
	}
	return re, nil
}

// reversePattern reverses a pattern keeping escapes in front of what they
// escape: a\*c becomes c\*a.
func reversePattern(pattern string) string {
	rs := []rune(pattern)
	var units [][]rune
	for i := 0; i < len(rs); i++ {
		if rs[i] == '\\' && i+1 < len(rs) {
			units = append(units, rs[i:i+2])
			i++
			continue
		}
		units = append(units, rs[i:i+1])
	}
	var out []rune
	for i := len(units) - 1; i >= 0; i-- {
		out = append(out, units[i]...)
	}
	return string(out)
}

func reverseString(s string) string {
	rs := []rune(s)
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return string(rs)
}

// hereVar is a reference a here-document expands: $NAME or ${NAME}, or an
// escaped dollar.
var hereVar = regexp.MustCompile(`\\\$|\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*`)

// expandVars expands a here-document as a shell would an unquoted one:
// variables only, quotes and everything else kept as written.
func expandVars(s string, lookup lookupFunc) string {
	return hereVar.ReplaceAllStringFunc(s, func(m string) string {
		if m == `\$` {
			return "$"
		}
		name := strings.Trim(m, "${}")
		v, _ := lookup(name)
		return v
	})
}
