package dockerfile

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/kiln-build/kiln/llb"
)

// COPY from the build context, a stage or an image.

var copyFlags = flagSpec{
	"from":    flagValue,
	"chown":   flagValue,
	"chmod":   flagValue,
	"link":    flagUnsupported,
	"exclude": flagUnsupported,
	"parents": flagUnsupported,
}

func (d *dispatch) copy(ins instruction) error {
	flags, err := parseFlags(ins.flags, copyFlags)
	if err != nil {
		return err
	}
	words := make([]string, len(ins.args))
	for i, a := range ins.args {
		if words[i], err = expand(a, d.escape, d.scope.lookup); err != nil {
			return err
		}
	}
	srcs, dest := words[:len(words)-1], words[len(words)-1]
	for i, s := range srcs {
		if s == "" {
			return syntaxErrorf("source %q expands to nothing", ins.args[i])
		}
	}
	dir := dest == "." || dest == "" || strings.HasSuffix(dest, "/") || strings.HasSuffix(dest, "/.")
	if len(srcs) > 1 && !dir {
		return syntaxErrorf("When using COPY with more than one source file, the destination must be a directory and end with a /")
	}
	if !path.IsAbs(dest) {
		dest = path.Join(d.cwd(), dest)
	} else {
		dest = path.Clean(dest)
	}
	if dir && !strings.HasSuffix(dest, "/") {
		dest += "/"
	}
	op := &llb.CopyOp{Src: srcs, Dest: dest}
	if v, ok := flags["chown"]; ok {
		if op.Chown, err = expand(v, d.escape, d.scope.lookup); err != nil {
			return fmt.Errorf("--chown: %w", err)
		}
	}
	if v, ok := flags["chmod"]; ok {
		if op.Chmod, err = parseChmod(v, d.escape, d.scope.lookup); err != nil {
			return err
		}
	}
	src := d.c.context
	if _, ok := flags["from"]; ok {
		from := d.s.copyFrom[ins.line]
		if from.stage != nil {
			src = from.stage.state
		} else {
			img, err := d.c.resolve(ins, from.image)
			if err != nil {
				return fmt.Errorf("--from=%s: %w", flags["from"], err)
			}
			src = img.vertex
		}
	}
	d.history(copyHistory(flags["from"], op), true)
	d.state = llb.NewVertex(op, d.meta(ins), d.state, src)
	return nil
}

// parseChmod accepts Docker's octal modes ("755", "0644") and returns them
// as four digits, so that equal modes give equal cache keys.
func parseChmod(v string, escape rune, lookup lookupFunc) (string, error) {
	s, err := expand(v, escape, lookup)
	if err != nil {
		return "", fmt.Errorf("--chmod: %w", err)
	}
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 07777 {
		return "", syntaxErrorf("--chmod=%s: invalid mode, want octal such as 0755", s)
	}
	return fmt.Sprintf("%04o", m), nil
}

// copyHistory is the history entry of a COPY, BuildKit-style, with
// variables expanded: "COPY --from=build /out /app # buildkit".
func copyHistory(from string, op *llb.CopyOp) string {
	var b strings.Builder
	b.WriteString("COPY ")
	for _, f := range [][2]string{{"from", from}, {"chown", op.Chown}, {"chmod", op.Chmod}} {
		if f[1] != "" {
			fmt.Fprintf(&b, "--%s=%s ", f[0], f[1])
		}
	}
	b.WriteString(strings.Join(op.Src, " "))
	b.WriteString(" " + op.Dest + " # buildkit")
	return b.String()
}
