package dockerfile

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseFlags(t *testing.T) {
	cases := []struct {
		name string
		raw  []string
		want flagValues
		err  error
		msg  string
	}{
		{name: "none", raw: nil, want: flagValues{}},
		{name: "from", raw: []string{"--from=build"}, want: flagValues{"from": {"build"}}},
		{name: "all", raw: []string{"--from=0", "--chown=a:b", "--chmod=755"},
			want: flagValues{"from": {"0"}, "chown": {"a:b"}, "chmod": {"755"}}},
		{name: "value with =", raw: []string{"--chown=a=b"}, want: flagValues{"chown": {"a=b"}}},
		{name: "value with spaces", raw: []string{"--from=a b"}, want: flagValues{"from": {"a b"}}},
		{name: "bool", raw: []string{"--link"}, want: flagValues{"link": {"true"}}},
		{name: "bool false", raw: []string{"--link=false", "--parents=1"}, want: flagValues{"link": {"false"}, "parents": {"true"}}},
		{name: "bool bad", raw: []string{"--link=maybe"}, err: ErrSyntax, msg: "--link=maybe: want true or false"},
		{name: "list", raw: []string{"--exclude=*.go", "--exclude=x"}, want: flagValues{"exclude": {"*.go", "x"}}},
		{name: "list empty", raw: []string{"--exclude="}, err: ErrSyntax, msg: "--exclude: flag needs a value (--exclude=…)"},
		{name: "unknown", raw: []string{"--form=x"}, err: ErrUnknownFlag, msg: "--form: unknown flag (did you mean --from?)"},
		{name: "unknown far", raw: []string{"--verbose"}, err: ErrUnknownFlag, msg: "--verbose: unknown flag"},
		{name: "no value", raw: []string{"--from"}, err: ErrSyntax, msg: "--from: flag needs a value (--from=…)"},
		{name: "empty value", raw: []string{"--from="}, err: ErrSyntax, msg: "--from: flag needs a value (--from=…)"},
		{name: "twice", raw: []string{"--from=a", "--from=b"}, err: ErrSyntax, msg: "--from: flag given more than once"},
		{name: "malformed", raw: []string{"--=x"}, err: ErrSyntax, msg: "--=x: malformed flag, want --name=value"},
		{name: "single dash", raw: []string{"-from=x"}, err: ErrSyntax, msg: "-from=x: malformed flag, want --name=value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseFlags(c.raw, copyFlags)
			if c.err != nil {
				if !errors.Is(err, c.err) || err.Error() != c.msg {
					t.Fatalf("got %v, want %q matching %v", err, c.msg, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want %v", err, c.want)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestParseArgWord(t *testing.T) {
	str := func(s string) *string { return &s }
	cases := []struct {
		in   string
		want argWord
		err  bool
	}{
		{in: "A", want: argWord{key: "A"}},
		{in: "A=", want: argWord{key: "A", value: str("")}},
		{in: "A=1", want: argWord{key: "A", value: str("1")}},
		{in: `A="x y"`, want: argWord{key: "A", value: str(`"x y"`)}},
		{in: "A=b=c", want: argWord{key: "A", value: str("b=c")}},
		{in: "=x", err: true},
		{in: "", err: true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := parseArgWord(c.in)
			if c.err {
				if err == nil {
					t.Fatalf("got %+v, want an error", got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v, %v, want %+v", got, err, c.want)
			}
		})
	}
}

func TestParsePorts(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"80", []string{"80/tcp"}},
		{"53/udp", []string{"53/udp"}},
		{"53/UDP", []string{"53/udp"}},
		{"1-3/sctp", []string{"1/sctp", "2/sctp", "3/sctp"}},
		{"0", nil}, {"65536", nil}, {"x", nil}, {"80/http", nil}, {"3-1", nil}, {"", nil},
	}
	for _, c := range cases {
		got, err := parsePorts(c.in)
		if (err != nil) != (c.want == nil) || (c.want != nil && !reflect.DeepEqual(got, c.want)) {
			t.Errorf("parsePorts(%q): got %v, %v, want %v", c.in, got, err, c.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"FROM", "RUN", "COPY", "ENTRYPOINT"}
	for in, want := range map[string]string{"FORM": "FROM", "RNU": "RUN", "copy": "COPY", "ENTRYPINT": "ENTRYPOINT", "FROBNICATE": ""} {
		if got := suggest(in, names); got != want {
			t.Errorf("suggest(%q): got %q, want %q", in, got, want)
		}
	}
}
