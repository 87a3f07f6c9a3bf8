package solver

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/kiln-build/kiln/container"
	"github.com/kiln-build/kiln/executor"
)

// runLimited runs a RUN step under the build's limits: a cgroup of its own,
// which the step starts in and which is removed after it, and its ulimits.
// Without limits it is exec.Run.
func (st *state) runLimited(ctx context.Context, spec executor.Spec) error {
	l := st.opt.Limits
	spec.Rlimits = l.Ulimits
	if l.Memory == 0 && l.NanoCPUs == 0 && l.CPUShares == 0 && l.PidsLimit <= 0 {
		return st.exec.Run(ctx, spec)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := "build-" + hex.EncodeToString(b[:])
	dirs, err := container.Cgroups(id, l)
	if err == nil {
		spec.Cgroups = dirs
		err = st.exec.Run(ctx, spec)
	}
	if rerr := container.RemoveCgroup(id); rerr != nil && err == nil {
		err = rerr
	}
	return err
}
