package container

// Pause and unpause use the cgroup freezer, written to directly rather than
// through containerd/cgroups: one directory per container, one file to
// write. The v1 freezer controller is used where it is mounted (hybrid
// machines), else cgroup v2's cgroup.freeze.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

const cgroupRoot = "/sys/fs/cgroup"

type cgroup struct {
	dir string
	v2  bool
}

func cgroupOf(id string) (cgroup, error) {
	if fi, err := os.Stat(filepath.Join(cgroupRoot, "freezer")); err == nil && fi.IsDir() {
		return cgroup{dir: filepath.Join(cgroupRoot, "freezer", "kiln", id)}, nil
	}
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil {
		return cgroup{dir: filepath.Join(cgroupRoot, "kiln", id), v2: true}, nil
	}
	return cgroup{}, fmt.Errorf("%w: neither %s/freezer (v1) nor a cgroup v2 hierarchy is mounted", ErrNoCgroup, cgroupRoot)
}

// FreezerCgroup creates the container's freezer cgroup, the one pause
// freezes, if missing and returns its directory.
func FreezerCgroup(id string) (string, error) {
	cg, err := cgroupOf(id)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(cg.dir, 0o755); err != nil {
		return "", fmt.Errorf("create cgroup: %w", err)
	}
	return cg.dir, nil
}

// Freeze stops every process of the container until Thaw.
func Freeze(id string) error { return setFrozen(id, true) }

// Thaw resumes a frozen container.
func Thaw(id string) error { return setFrozen(id, false) }

func setFrozen(id string, frozen bool) error {
	cg, err := cgroupOf(id)
	if err != nil {
		return err
	}
	file, val := "freezer.state", "THAWED"
	if cg.v2 {
		file, val = "cgroup.freeze", "0"
	}
	if frozen {
		val = map[bool]string{false: "FROZEN", true: "1"}[cg.v2]
	}
	if err := os.WriteFile(filepath.Join(cg.dir, file), []byte(val), 0o644); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: the container has no cgroup (started by an older kiln?)", ErrNoCgroup)
		}
		return fmt.Errorf("write %s: %w", file, err)
	}
	// Freezing is asynchronous: wait until every task is stopped, so the
	// caller can rely on it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := isFrozen(cg)
		if err != nil {
			return err
		}
		if got == frozen {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s: still not %s after 10s", cg.dir, val)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Frozen reports whether the container's cgroup is frozen.
func Frozen(id string) (bool, error) {
	cg, err := cgroupOf(id)
	if err != nil {
		return false, err
	}
	return isFrozen(cg)
}

func isFrozen(cg cgroup) (bool, error) {
	if cg.v2 {
		b, err := os.ReadFile(filepath.Join(cg.dir, "cgroup.events"))
		if err != nil {
			return false, err
		}
		return bytes.Contains(b, []byte("frozen 1")), nil
	}
	b, err := os.ReadFile(filepath.Join(cg.dir, "freezer.state"))
	if err != nil {
		return false, err
	}
	return string(bytes.TrimSpace(b)) == "FROZEN", nil
}

// RemoveCgroup removes the container's cgroup, which must have no process
// left; a missing one is not an error.
func RemoveCgroup(id string) error {
	lerr := RemoveLimits(id)
	cg, err := cgroupOf(id)
	if err != nil {
		return nil
	}
	if err := os.Remove(cg.dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove cgroup: %w", err)
	}
	return lerr
}
