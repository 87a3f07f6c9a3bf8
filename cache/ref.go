package cache

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	digest "github.com/opencontainers/go-digest"
)

// The grammar of github.com/distribution/reference, which Docker uses.
// kiln does not prefix docker.io/library/: a store is local, and "app" is
// simply "app:latest".
var (
	alnum      = `[a-z0-9]+`
	separator  = `(?:[._]|__|[-]+)`
	pathComp   = alnum + `(?:` + separator + alnum + `)*`
	domainComp = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	host       = `(?:` + domainComp + `(?:\.` + domainComp + `)*|\[[a-fA-F0-9:]+\])`
	domain     = host + `(?::[0-9]+)?`
	name       = `(?:` + domain + `/)?` + pathComp + `(?:/` + pathComp + `)*`
	tagPat     = `[\w][\w.-]{0,127}`
	digestPat  = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}`
)

// The expressions are compiled on first use, not at package init, which
// every kiln process (a container's init included) would pay for.
var (
	refRegexp = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(` + name + `)(?::(` + tagPat + `))?(?:@(` + digestPat + `))?$`)
	})
	hex64 = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-f0-9]{64}$`) })
)

const maxNameLen = 255

// NormalizeRef checks ref against Docker's reference grammar and returns it
// in the form tags are stored under: with ":latest" added when it has
// neither tag nor digest. A reference by digest is kept as written.
func NormalizeRef(ref string) (string, error) {
	m := refRegexp().FindStringSubmatch(ref)
	if m == nil {
		return "", fmt.Errorf("%w: %q", ErrInvalidReference, ref)
	}
	name, tag, dgst := m[1], m[2], m[3]
	// Docker refuses a bare 64-hex name: it would read as an image ID.
	if len(name) > maxNameLen || hex64().MatchString(name) {
		return "", fmt.Errorf("%w: %q", ErrInvalidReference, ref)
	}
	if dgst != "" {
		if _, err := digest.Parse(dgst); err != nil {
			return "", fmt.Errorf("%w: %q: %w", ErrInvalidReference, ref, err)
		}
		return ref, nil
	}
	if tag == "" {
		tag = "latest"
	}
	return name + ":" + tag, nil
}

// isHexPrefix reports whether s can be a short image ID.
func isHexPrefix(s string) bool {
	if len(s) < 4 || len(s) > 64 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}
