package executor

import (
	"fmt"
	"path"
	"strings"
)

// cleanSrc turns a COPY source into a clean path relative to the source
// root; a path climbing out of the root is an error.
func cleanSrc(src string) (string, error) {
	p := strings.TrimLeft(src, "/")
	p = path.Clean(p)
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", &kindError{msg: fmt.Sprintf("%q: path outside the source", src), kind: ErrInvalidSpec}
	}
	return p, nil
}

// hasMeta reports whether a path holds filepath.Match wildcards.
func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

func notFound(src string, context bool) error {
	msg := fmt.Sprintf("%q not found", src)
	if context {
		msg += " in build context"
	}
	return &kindError{msg: msg, kind: ErrNotFound}
}
