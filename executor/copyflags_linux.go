package executor

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
)

// COPY --exclude, --parents, --link (UsersFrom) and ADD's extraction: the
// copier's side of them.

func (c *copier) setFlags(cfg *copyConfig) error {
	if len(cfg.Exclude) > 0 {
		pm, err := patternmatcher.New(cfg.Exclude)
		if err != nil {
			return fmt.Errorf("%w: --exclude: %v", ErrInvalidSpec, err)
		}
		c.skip = pm
	}
	c.parents, c.extract = cfg.Parents, cfg.Extract
	return nil
}

// usersRoot returns where Chown names are resolved: the destination, or for
// COPY --link (whose destination is empty) the image it will stack on,
// mounted read-only under the copy's dir.
func usersRoot(cfg *copyConfig, dest, empty string) (string, error) {
	switch len(cfg.UsersFrom) {
	case 0:
		return dest, nil
	case 1:
		return cfg.UsersFrom[0], nil
	}
	root := filepath.Join(cfg.Dir, "users")
	if err := mountOverlay(root, cfg.UsersFrom, empty, "", ""); err != nil {
		return "", err
	}
	return root, nil
}

// skipped reports whether rel (relative to the source root) matches a COPY
// --exclude pattern, taken relative to the source being copied (c.curSrc).
func (c *copier) skipped(rel string) bool {
	if c.skip == nil {
		return false
	}
	r := rel
	if c.curSrc != "" && c.curSrc != "." {
		var ok bool
		if r, ok = strings.CutPrefix(rel, c.curSrc+"/"); !ok {
			r = path.Base(rel) // the source itself: its name
		}
	}
	m, err := c.skip.MatchesOrParentMatches(r)
	return err == nil && m
}

// exclusions reports whether any exclude pattern (.dockerignore or
// --exclude) has a "!" exception, so an excluded directory must still be
// walked.
func (c *copier) exclusions() bool {
	return (c.pm != nil && c.pm.Exclusions()) || (c.skip != nil && c.skip.Exclusions())
}

// pivot returns the part of a source path that --parents drops: everything
// before a "/./" marker, or nothing.
func pivot(src string) string {
	raw := strings.TrimLeft(src, "/")
	if i := strings.LastIndex(raw, "/./"); i >= 0 {
		p := path.Clean(raw[:i])
		if p == "." {
			return ""
		}
		return p
	}
	return ""
}

// parentsDest is where --parents puts a source: its path under destRel,
// less the pivot.
func parentsDest(destRel, pivot, rel string) string {
	keep := rel
	if pivot != "" {
		keep = strings.TrimPrefix(rel, pivot+"/")
	}
	return strings.TrimPrefix(path.Join(destRel, keep), "/")
}
