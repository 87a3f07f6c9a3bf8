package dockerfile

import (
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/kiln-build/kiln/llb"
	digest "github.com/opencontainers/go-digest"
)

// COPY and ADD: from the build context, a stage, an image or (ADD) a URL.

var copyFlags = flagSpec{
	"from":    flagValue,
	"chown":   flagValue,
	"chmod":   flagValue,
	"link":    flagBool,
	"exclude": flagList,
	"parents": flagBool,
}

// addFlags are BuildKit's ADD flags: no --from and no --parents.
var addFlags = flagSpec{
	"chown":        flagValue,
	"chmod":        flagValue,
	"link":         flagBool,
	"exclude":      flagList,
	"checksum":     flagValue,
	"unpack":       flagBool,
	"keep-git-dir": flagUnsupported,
}

// copyArgs are the parts COPY and ADD share, expanded.
type copyArgs struct {
	flags flagValues
	srcs  []string
	op    *llb.CopyOp
	// inline is the source made of the instruction's here-documents
	// (COPY <<EOF /dest), whose names op.Src then holds; nil otherwise.
	inline *llb.Vertex
}

// parseCopy expands the sources, destination, --chown and --chmod, and
// applies Docker's destination rules: relative to WORKDIR, and a directory
// when it ends in "/" (which several sources require).
func (d *dispatch) parseCopy(ins instruction, spec flagSpec) (*copyArgs, error) {
	flags, err := parseFlags(ins.flags, spec)
	if err != nil {
		return nil, err
	}
	words := make([]string, len(ins.args))
	for i, a := range ins.args {
		if words[i], err = expand(a, d.escape, d.scope.lookup); err != nil {
			return nil, err
		}
	}
	srcs, dest := words[:len(words)-1], words[len(words)-1]
	for i, s := range srcs {
		if s == "" {
			return nil, syntaxErrorf("source %q expands to nothing", ins.args[i])
		}
	}
	dir := dest == "." || dest == "" || strings.HasSuffix(dest, "/") || strings.HasSuffix(dest, "/.")
	if len(srcs) > 1 && !dir {
		return nil, syntaxErrorf("When using %s with more than one source file, the destination must be a directory and end with a /", ins.cmd)
	}
	if !path.IsAbs(dest) {
		dest = path.Join(d.cwd(), dest)
	} else {
		dest = path.Clean(dest)
	}
	if dir && !strings.HasSuffix(dest, "/") {
		dest += "/"
	}
	op := &llb.CopyOp{Dest: dest, Link: flags.bool("link"), Exclude: flags["exclude"], Parents: flags.bool("parents")}
	for _, e := range op.Exclude {
		if _, err := path.Match(e, ""); err != nil {
			return nil, syntaxErrorf("--exclude=%s: bad pattern", e)
		}
	}
	if v, ok := flags.get("chown"); ok {
		if op.Chown, err = expand(v, d.escape, d.scope.lookup); err != nil {
			return nil, fmt.Errorf("--chown: %w", err)
		}
		if op.Chown == "" {
			return nil, syntaxErrorf("--chown=%s expands to nothing", v)
		}
	}
	if v, ok := flags.get("chmod"); ok {
		if op.Chmod, err = parseChmod(v, d.escape, d.scope.lookup); err != nil {
			return nil, err
		}
	}
	ca := &copyArgs{flags: flags, srcs: srcs, op: op}
	if len(ins.heredocs) > 0 {
		if err := d.heredocSources(ins, ca); err != nil {
			return nil, err
		}
	}
	return ca, nil
}

// heredocSources turns the here-documents of a COPY or ADD into files of an
// inline source, as BuildKit does: each "<<NAME" source is a file NAME with
// the document's content, expanded unless the name was quoted.
func (d *dispatch) heredocSources(ins instruction, ca *copyArgs) error {
	if _, ok := ca.flags.get("from"); ok {
		return syntaxErrorf("--from cannot be used with a here-document source")
	}
	if len(ca.srcs) != len(ins.heredocs) {
		return fmt.Errorf("here-documents mixed with other sources: %w", ErrNotSupported)
	}
	op := &llb.InlineOp{}
	for i, h := range ins.heredocs {
		if !strings.HasPrefix(ca.srcs[i], "<<") {
			return fmt.Errorf("here-documents mixed with other sources: %w", ErrNotSupported)
		}
		data := h.content
		if h.chomp {
			data = chomp(data)
		}
		if h.expand {
			data = expandVars(data, d.scope.lookup)
		}
		op.Files = append(op.Files, llb.InlineFile{Name: h.name, Data: data, Mode: 0o644})
		ca.op.Src = append(ca.op.Src, h.name)
	}
	ca.inline = llb.NewVertex(op, llb.Meta{Name: "[internal] here-document " + strings.Join(ca.op.Src, " ")})
	return nil
}

// contextPath makes a source relative to the root it is copied from. Docker
// reads an absolute source as relative to the context root; a source that
// climbs out with ".." is refused, as Docker's classic builder does
// ("forbidden path outside the build context"), rather than silently
// clamped to the root as BuildKit does.
func contextPath(src string) (string, error) {
	clean := path.Clean("./" + src)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", syntaxErrorf("%s: forbidden path outside the build context", src)
	}
	rel := strings.TrimLeft(src, "/")
	if rel == "" {
		rel = "."
	}
	return rel, nil
}

func (d *dispatch) copy(ins instruction) error {
	ca, err := d.parseCopy(ins, copyFlags)
	if err != nil {
		return err
	}
	op := ca.op
	src := d.c.context
	from, hasFrom := ca.flags.get("from")
	if ca.inline != nil {
		d.history(copyHistory("COPY", from, ca.srcs, op), true)
		d.state = llb.NewVertex(op, d.meta(ins), d.state, ca.inline)
		return nil
	}
	if hasFrom {
		if src, err = d.copyFrom(ins, from); err != nil {
			return fmt.Errorf("--from=%s: %w", from, err)
		}
	}
	for _, s := range ca.srcs {
		rel, err := contextPath(s)
		if err != nil {
			return err
		}
		op.Src = append(op.Src, rel)
	}
	d.history(copyHistory("COPY", from, ca.srcs, op), true)
	d.state = llb.NewVertex(op, d.meta(ins), d.state, src)
	return nil
}

// copyFrom is the source of COPY --from: what the first pass linked, or,
// for an ONBUILD trigger (which the first pass never saw), resolved now.
func (d *dispatch) copyFrom(ins instruction, name string) (*llb.Vertex, error) {
	from, ok := d.s.copyFrom[ins.line]
	switch {
	case !ok || ins.onbuild:
		return d.sourceFrom(ins, name)
	case from.stage != nil:
		return from.stage.state, nil
	}
	img, err := d.c.resolve(ins, from.image)
	if err != nil {
		return nil, err
	}
	return img.vertex, nil
}

// add is COPY plus two things: a local tar archive is unpacked (the
// executor decides whether a file is one), and a URL source is downloaded.
func (d *dispatch) add(ins instruction) error {
	ca, err := d.parseCopy(ins, addFlags)
	if err != nil {
		return err
	}
	op := ca.op
	if ca.inline != nil {
		// A here-document is never an archive to unpack.
		d.history(copyHistory("ADD", "", ca.srcs, op), true)
		d.state = llb.NewVertex(op, d.meta(ins), d.state, ca.inline)
		return nil
	}
	op.Extract = true
	if v, ok := ca.flags.get("unpack"); ok {
		op.Extract = v == "true"
	}
	var checksum digest.Digest
	if v, ok := ca.flags.get("checksum"); ok {
		c, err := expand(v, d.escape, d.scope.lookup)
		if err != nil {
			return fmt.Errorf("--checksum: %w", err)
		}
		if checksum, err = digest.Parse(c); err != nil {
			return syntaxErrorf("--checksum=%s: invalid checksum, want sha256:<64 hex digits>", c)
		}
	}
	var urls, local []string
	for _, s := range ca.srcs {
		switch {
		case isGitSource(s):
			return fmt.Errorf("git source %s: %w", s, ErrNotSupported)
		case isURL(s):
			urls = append(urls, s)
		default:
			rel, err := contextPath(s)
			if err != nil {
				return err
			}
			local = append(local, rel)
		}
	}
	if checksum != "" && (len(urls) != 1 || len(local) != 0) {
		return syntaxErrorf("--checksum can only be used with a single HTTP(S) source")
	}
	src := d.c.context
	switch {
	case len(urls) == 0:
		op.Src = local
	case len(urls) == 1 && len(local) == 0:
		u := urls[0]
		name := urlFilename(u)
		src = llb.NewVertex(&llb.HTTPOp{URL: u, Checksum: checksum, Filename: name}, llb.Meta{
			Name: "[internal] download " + u, File: d.c.opt.File, Line: ins.line, Text: ins.original,
		})
		op.Src = []string{name}
		// BuildKit unpacks a downloaded archive only with --unpack.
		op.Extract = ca.flags.bool("unpack")
	default:
		return fmt.Errorf("ADD with several sources including a URL: %w", ErrNotSupported)
	}
	// History shows the sources as written after expansion, URLs included.
	d.history(copyHistory("ADD", "", ca.srcs, op), true)
	d.state = llb.NewVertex(op, d.meta(ins), d.state, src)
	return nil
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// isGitSource is BuildKit's test for a git remote in ADD.
func isGitSource(s string) bool {
	if strings.HasPrefix(s, "git@") || strings.HasPrefix(s, "git://") || strings.HasPrefix(s, "ssh://") {
		return true
	}
	if !isURL(s) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (strings.HasSuffix(u.Path, ".git") || strings.Contains(u.Fragment, ":"))
}

// urlFilename is the name a download gets: the last element of the URL's
// path, or "download" when it has none (BuildKit's fallback when the server
// sends no Content-Disposition either; the frontend cannot know the header).
func urlFilename(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "download"
	}
	base := path.Base(p.Path)
	if base == "/" || base == "." || base == "" {
		return "download"
	}
	return base
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

// copyHistory is the history entry of a COPY or ADD, BuildKit-style, with
// variables expanded: "COPY --from=build /out /app # buildkit".
func copyHistory(cmd, from string, srcs []string, op *llb.CopyOp) string {
	var b strings.Builder
	b.WriteString(cmd + " ")
	for _, f := range [][2]string{{"from", from}, {"chown", op.Chown}, {"chmod", op.Chmod}} {
		if f[1] != "" {
			fmt.Fprintf(&b, "--%s=%s ", f[0], f[1])
		}
	}
	b.WriteString(strings.Join(srcs, " "))
	b.WriteString(" " + op.Dest + " # buildkit")
	return b.String()
}
