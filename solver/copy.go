package solver

import (
	"strconv"
	"strings"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/executor"
	"github.com/kiln-build/kiln/llb"
)

// COPY --link: the files are copied into an empty filesystem, so the layer
// does not depend on the destination and is reused when the base changes,
// as with BuildKit. Its cache key leaves out the destination's key (unless
// --chown names a user, which is resolved in the destination); its layer
// is stored as a bottom layer (chain ID = diff ID) and stacked on whatever
// base the build has.

// linkCopy returns the op if v is a COPY --link.
func linkCopy(op llb.Op) (*llb.CopyOp, bool) {
	cp, ok := op.(*llb.CopyOp)
	return cp, ok && cp.Link
}

// chownByName reports whether a --chown names a user or group rather than
// numeric ids.
func chownByName(chown string) bool {
	if chown == "" {
		return false
	}
	for _, p := range strings.SplitN(chown, ":", 2) {
		if _, err := strconv.Atoi(p); err != nil {
			return true
		}
	}
	return false
}

// linkKeyInputs drops the destination's key from a COPY --link's key.
func linkKeyInputs(op llb.Op, k *keyInput) {
	if cp, ok := linkCopy(op); ok && len(k.Inputs) > 0 && !chownByName(cp.Chown) {
		k.Inputs[0] = ""
	}
}

// copySpec fills the flags of a COPY/ADD into c, and for --link empties its
// destination.
func (st *state) copySpec(c *executor.CopySpec, op *llb.CopyOp, base []cache.Layer) {
	c.Exclude, c.Parents, c.Extract = op.Exclude, op.Parents, op.Extract
	if op.Link {
		c.Dest.Lower = nil
		if op.Chown != "" {
			c.UsersFrom = st.lowerDirs(base)
		}
	}
}

// stack returns the layers of a step's result: the base plus the step's
// own layers (rec's, for a COPY --link; otherwise rec holds the whole chain).
func stack(op llb.Op, base, own []cache.Layer) []cache.Layer {
	if _, ok := linkCopy(op); ok {
		return append(append([]cache.Layer(nil), base...), own...)
	}
	return own
}
