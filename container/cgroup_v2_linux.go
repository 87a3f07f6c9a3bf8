package container

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/containerd/cgroups/v3/cgroup2"
)

// v2Controllers are the controllers a container's cgroup v2 has: its
// limits' and those stats read. The freezer is built into cgroup v2.
var v2Controllers = []string{"memory", "cpu", "pids", "io"}

// resourcesV2 are l for cgroup2: the library's conversion of the OCI
// resources (cpu.weight from shares on its curve, where the default 1024
// shares give the default weight 100), but for unlimited swap, which it
// would make a negative memory.swap.max: that file's default, max, is
// unlimited already.
func (l Limits) resourcesV2(swap bool) *cgroup2.Resources {
	r := cgroup2.ToResources(l.resources(swap))
	if r.Memory != nil && r.Memory.Swap != nil && *r.Memory.Swap < 0 {
		r.Memory.Swap = nil
	}
	return r
}

// makeV2 makes the container's cgroup v2 with l's limits and returns its
// directory. The controllers its limits need are enabled down from the
// root, as the library does; those only stats use are enabled one by one,
// best effort, where the parent does not have them yet: one that cannot be
// (cpu, with realtime tasks about) must not keep the others off.
func makeV2(root, id string, l Limits) ([]string, error) {
	path := cgroupPath(id)
	if need := l.controllers(); len(need) > 0 {
		m, err := cgroup2.Load(path, cgroup2.WithMountpoint(root))
		if err != nil {
			return nil, err
		}
		have, err := m.RootControllers()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNoCgroup, err)
		}
		for c, flag := range need {
			if !slices.Contains(have, c) {
				return nil, fmt.Errorf("%s: the %s cgroup controller is not available in %s", flag, c, root)
			}
		}
	}
	m, err := cgroup2.NewManager(root, path, l.resourcesV2(false))
	if err != nil {
		return nil, limitError(err)
	}
	if have, err := m.Controllers(); err == nil {
		for _, c := range v2Controllers {
			if !slices.Contains(have, c) {
				_ = m.ToggleControllers([]string{c}, cgroup2.Enable)
			}
		}
	}
	dir := filepath.Join(root, path)
	// Without swap accounting there is no memory.swap.max, which cannot
	// be known before the cgroup is made.
	if mem := l.resourcesV2(true).Memory; mem != nil && mem.Swap != nil {
		if _, err := os.Stat(filepath.Join(dir, "memory.swap.max")); err == nil {
			if err := m.Update(&cgroup2.Resources{Memory: &cgroup2.Memory{Swap: mem.Swap}}); err != nil {
				return nil, limitError(err)
			}
		}
	}
	return []string{dir}, nil
}

// loadV2 loads the container's cgroup v2, which must exist.
func loadV2(root, id string) (*cgroup2.Manager, error) {
	if _, err := os.Stat(filepath.Join(root, cgroupPath(id))); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: the container has no cgroup", ErrNoCgroup)
		}
		return nil, err
	}
	return cgroup2.Load(cgroupPath(id), cgroup2.WithMountpoint(root))
}

func removeV2(root, id string) error {
	m, err := loadV2(root, id)
	if errors.Is(err, ErrNoCgroup) {
		return nil
	}
	if err != nil {
		return err
	}
	err = retryRemove(func() error {
		if err := m.Delete(); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove cgroup: %w", err)
	}
	return nil
}

func readStatsV2(root, id string) (Stats, error) {
	m, err := loadV2(root, id)
	if err != nil {
		return Stats{}, err
	}
	return statsOfV2(m)
}

func statsOfV2(m *cgroup2.Manager) (Stats, error) {
	metrics, err := m.StatFiltered(cgroup2.StatCPU | cgroup2.StatMemory | cgroup2.StatPids | cgroup2.StatIO)
	if err != nil {
		return Stats{}, fmt.Errorf("cgroup stats: %w", err)
	}
	return statsV2(metrics), nil
}

func freezeV2(root, id string, frozen bool) error {
	m, err := loadV2(root, id)
	if err != nil {
		return err
	}
	op := m.Thaw
	if frozen {
		op = m.Freeze
	}
	if err := op(); err != nil {
		return err
	}
	// The library returns once cgroup.freeze says what was asked;
	// freezing takes effect later, when cgroup.events says so. Callers
	// rely on every task being stopped.
	return waitFrozen(func() (bool, error) { return frozenV2(root, id) }, frozen)
}

// frozenV2 reads whether the container's cgroup v2 is frozen, which the
// library has no call for.
func frozenV2(root, id string) (bool, error) {
	b, err := os.ReadFile(filepath.Join(root, cgroupPath(id), "cgroup.events"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("%w: the container has no cgroup", ErrNoCgroup)
		}
		return false, err
	}
	return bytes.Contains(b, []byte("frozen 1")), nil
}
