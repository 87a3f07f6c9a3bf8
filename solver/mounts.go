package solver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/executor"
	"github.com/kiln-build/kiln/llb"
)

// CacheMounter is the optional part of a Store that holds RUN cache mounts
// (*cache.Store). A store without it fails RUNs that ask for one.
type CacheMounter interface {
	CacheMount(ctx context.Context, id, sharing string, init func(dir string) error) (dir string, release func() error, err error)
}

var _ CacheMounter = (*cache.Store)(nil)

// ErrSecretMissing reports a required secret the build was not given.
var ErrSecretMissing = errors.New("secret not provided")

// mountInput returns the filesystem a mount takes its source from; the zero
// result (an empty filesystem) when it names none.
func mountInput(m llb.Mount, inputs []result) (result, error) {
	if m.Input < 0 || m.Input >= len(inputs) {
		return result{}, fmt.Errorf("mount on %s: input %d out of range", m.Target, m.Input)
	}
	if m.Input == 0 {
		return result{}, nil
	}
	return inputs[m.Input], nil
}

// bindSums returns, for each bind mount from the build context, the checksum
// of what it shows, so that editing those files re-runs the step. Cache
// mount contents are never part of a key, as with BuildKit; secrets only by
// ID (the op has nothing else).
func (st *state) bindSums(ctx context.Context, op llb.Op, inputs []result) ([]digest.Digest, error) {
	ex, ok := op.(*llb.ExecOp)
	if !ok {
		return nil, nil
	}
	var sums []digest.Digest
	for _, m := range ex.Mounts {
		if m.Type != llb.MountBind {
			continue
		}
		src, err := mountInput(m, inputs)
		if err != nil {
			return nil, err
		}
		if src.local == nil {
			continue
		}
		p := m.Source
		if p == "" {
			p = "."
		}
		sum, err := st.store.ChecksumContext(ctx, st.opt.ContextDir, []string{p}, src.local.Excludes)
		if err != nil {
			return nil, fmt.Errorf("mount on %s: %w", m.Target, err)
		}
		sums = append(sums, sum)
	}
	return sums, nil
}

// execMounts turns an ExecOp's mounts into the executor's, taking the cache
// mounts' locks; release gives them back once the process is done.
func (st *state) execMounts(ctx context.Context, op *llb.ExecOp, inputs []result) (mounts []executor.Mount, release func(), err error) {
	var releases []func() error
	release = func() {
		for i := len(releases) - 1; i >= 0; i-- {
			_ = releases[i]()
		}
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	for _, m := range op.Mounts {
		src, err := mountInput(m, inputs)
		if err != nil {
			return nil, release, err
		}
		em := executor.Mount{Target: m.Target, ReadOnly: m.ReadOnly}
		switch m.Type {
		case llb.MountBind:
			em.Type, em.Path = executor.MountBind, m.Source
			if src.local != nil {
				em.Source, em.Excludes = st.opt.ContextDir, src.local.Excludes
			} else {
				em.Lower = st.lowerDirs(src.layers)
			}
		case llb.MountCache:
			cm, ok := st.store.(CacheMounter)
			if !ok {
				return nil, release, fmt.Errorf("mount on %s: this store holds no cache mounts", m.Target)
			}
			id := m.ID
			if id == "" {
				id = m.Target
			}
			dir, rel, err := cm.CacheMount(ctx, id, m.Sharing, func(dir string) error {
				return st.initCacheMount(ctx, dir, m, src)
			})
			if err != nil {
				return nil, release, err
			}
			releases = append(releases, rel)
			em.Type, em.Source = executor.MountCache, dir
		case llb.MountTmpfs:
			em.Type, em.Size = executor.MountTmpfs, m.Size
		case llb.MountSecret:
			data, ok := st.opt.Secrets[m.ID]
			if !ok {
				if m.Required {
					return nil, release, fmt.Errorf("secret %q: %w (kiln build --secret id=%s,src=PATH)", m.ID, ErrSecretMissing, m.ID)
				}
				continue // Docker's rule: an optional secret not given is not mounted
			}
			if em.Target == "" {
				em.Target = "/run/secrets/" + m.ID
			}
			em.Type, em.Data, em.Mode, em.UID, em.GID = executor.MountSecret, data, m.Mode, m.UID, m.GID
			em.ReadOnly = true
		default:
			return nil, release, fmt.Errorf("mount on %s: type %q is not supported", m.Target, m.Type)
		}
		mounts = append(mounts, em)
	}
	return mounts, release, nil
}

// initCacheMount prepares a new cache directory: seeded from the mount's
// source when it names one (BuildKit's from=/source=), then given the
// mount's owner and mode (0755 by default).
func (st *state) initCacheMount(ctx context.Context, dir string, m llb.Mount, src result) error {
	if m.Input > 0 {
		work := filepath.Join(filepath.Dir(dir), "work")
		if err := os.Mkdir(work, 0o755); err != nil {
			return err
		}
		p := m.Source
		if p == "" {
			p = "."
		}
		c := executor.CopySpec{Dest: executor.Rootfs{Upper: dir, Work: work}, Src: []string{p}, DestPath: "/"}
		if src.local != nil {
			c.SrcDir, c.Excludes = st.opt.ContextDir, src.local.Excludes
		} else {
			c.SrcLower = st.lowerDirs(src.layers)
		}
		if err := st.exec.Copy(ctx, c); err != nil {
			return fmt.Errorf("seed from %s: %w", p, err)
		}
	}
	mode := os.FileMode(m.Mode & 0o777)
	if m.Mode == 0 {
		mode = 0o755
	}
	if err := os.Lchown(dir, m.UID, m.GID); err != nil {
		return err
	}
	return os.Chmod(dir, mode)
}
