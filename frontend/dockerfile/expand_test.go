package dockerfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "a", "EMPTY": "", "SP": "x y", "PATH": "/bin",
		"F": "dir/sub/file.tar.gz", "STAR": "a*b", "GLOB": "*.gz"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	cases := []struct {
		in, want string
		escape   rune
	}{
		{in: "", want: ""},
		{in: "plain", want: "plain"},
		{in: "$A", want: "a"},
		{in: "${A}", want: "a"},
		{in: "$A$A", want: "aa"},
		{in: "x${A}y", want: "xay"},
		{in: "$UNSET", want: ""},
		{in: "${UNSET}", want: ""},
		{in: "${UNSET:-w}", want: "w"},
		{in: "${UNSET-w}", want: "w"},
		{in: "${EMPTY:-w}", want: "w"},
		{in: "${EMPTY-w}", want: ""},
		{in: "${A:-w}", want: "a"},
		{in: "${A:+w}", want: "w"},
		{in: "${A+w}", want: "w"},
		{in: "${EMPTY:+w}", want: ""},
		{in: "${EMPTY+w}", want: "w"},
		{in: "${UNSET+w}", want: ""},
		{in: "${UNSET:-$A}", want: "a"},
		{in: "${UNSET:-${A:+nested}}", want: "nested"},
		{in: "${UNSET:-a b}", want: "a b"},
		{in: "${UNSET:-}", want: ""},
		{in: `${UNSET:-"}"}`, want: "}"},
		{in: `\$A`, want: "$A"},
		{in: `\${A}`, want: "${A}"},
		{in: `a\ b`, want: "a b"},
		{in: `a\`, want: "a"},
		{in: `'$A'`, want: "$A"},
		{in: `"$A"`, want: "a"},
		{in: `"a b"`, want: "a b"},
		{in: `"\$A"`, want: "$A"},
		{in: `"\"q\""`, want: `"q"`},
		{in: `"\n"`, want: `\n`},
		{in: `"it's"`, want: "it's"},
		{in: `'say "hi"'`, want: `say "hi"`},
		{in: "$", want: "$"},
		{in: "a$", want: "a$"},
		{in: "$/x", want: "$/x"},
		{in: "$1", want: ""},
		{in: "${SP}", want: "x y"},
		{in: "$PATH:/x", want: "/bin:/x"},
		{in: "`$A", want: "$A", escape: '`'},
		{in: `C:\dir`, want: `C:\dir`, escape: '`'},
		{in: "\"`\"\"", want: `"`, escape: '`'},
		// Pattern forms, as bash and BuildKit's shell.Lex expand them.
		{in: "${F#*/}", want: "sub/file.tar.gz"},
		{in: "${F##*/}", want: "file.tar.gz"},
		{in: "${F%.*}", want: "dir/sub/file.tar"},
		{in: "${F%%.*}", want: "dir/sub/file"},
		{in: "${F%/*}", want: "dir/sub"},
		{in: "${F#nomatch}", want: "dir/sub/file.tar.gz"},
		{in: "${F#d?r}", want: "/sub/file.tar.gz"},
		{in: "${F/sub/SUB}", want: "dir/SUB/file.tar.gz"},
		{in: "${F/s*b/X}", want: "dir/X/file.tar.gz"},
		{in: "${F//./_}", want: "dir/sub/file_tar_gz"},
		{in: "${F/./_}", want: "dir/sub/file_tar.gz"},
		{in: "${F/nomatch/x}", want: "dir/sub/file.tar.gz"},
		{in: "${F/sub/}", want: "dir//file.tar.gz"},
		{in: "${F%$GLOB}", want: "dir/sub/file.tar"},  // a variable's * is a pattern
		{in: `${STAR#a\*}`, want: "b"},                // an escaped * is literal
		{in: `${STAR#"a*"}`, want: "b"},               // a quoted * is literal
		{in: `${F#"*"}`, want: "dir/sub/file.tar.gz"}, // … and matches no other text
		{in: "${UNSET#x}", want: ""},
		{in: "${A/a/$SP}", want: "x y"},
		{in: "${PATH//\\//:}", want: ":bin"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			esc := c.escape
			if esc == 0 {
				esc = '\\'
			}
			got, err := expand(c.in, esc, lookup)
			if err != nil {
				t.Fatalf("expand(%q): got error %v, want %q", c.in, err, c.want)
			}
			if got != c.want {
				t.Fatalf("expand(%q): got %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestExpandErrors(t *testing.T) {
	lookup := func(string) (string, bool) { return "", false }
	cases := []struct {
		in   string
		want error
	}{
		{in: `"open`, want: ErrSyntax},
		{in: `'open`, want: ErrSyntax},
		{in: `${A`, want: ErrSyntax},
		{in: `${A:-x`, want: ErrSyntax},
		{in: `${}`, want: ErrSyntax},
		{in: `${A:?}`, want: ErrSyntax},
		{in: `${A?must be set}`, want: ErrSyntax},
		{in: `${A/x}`, want: ErrSyntax},
		{in: `${A:=x}`, want: ErrNotSupported},
		{in: `${A:1:2}`, want: ErrNotSupported},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := expand(c.in, '\\', lookup)
			if !errors.Is(err, c.want) {
				t.Fatalf("expand(%q): got %q, %v, want an error matching %v", c.in, got, err, c.want)
			}
		})
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"$A", "${A:-x}", `"a $B"`, `'x'`, `\$`, "${A:+${B}}",
		"${C#*}", "${C##x*}", "${C%y}", "${C%%*}", "${C/x/z}", "${C//?/_}", `${C#"*"\?}`} {
		f.Add(s, false)
	}
	// Every Dockerfile line under testdata is a seed too.
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "Dockerfile"))
	bad, _ := filepath.Glob(filepath.Join("testdata", "bad", "*", "Dockerfile"))
	for _, name := range append(files, bad...) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b), false)
	}
	vars := map[string]string{"A": "a", "B": "", "C": "x y"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	f.Fuzz(func(t *testing.T, word string, backtick bool) {
		esc := '\\'
		if backtick {
			esc = '`'
		}
		got, err := expand(word, esc, lookup)
		if err != nil && got != "" {
			t.Fatalf("expand(%q): got %q with error %v, want no text on error", word, got, err)
		}
	})
}
