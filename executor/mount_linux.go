package executor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"
	"golang.org/x/sys/unix"
)

// childMounts returns ms in the order the init child mounts them. They
// travel to it over the config pipe, secret content included: it never
// passes through a file.
func childMounts(ms []Mount) []Mount {
	out := make([]Mount, 0, len(ms))
	for _, i := range mountOrder(ms) {
		out = append(out, ms[i])
	}
	return out
}

// setupMounts runs in the init child after the rootfs is ready and before
// pivot_root. Each mount gets its scratch space under c.Dir/mounts/<n>.
func setupMounts(c *runConfig, st *stubs) error {
	if len(c.Mounts) == 0 {
		return nil
	}
	base := filepath.Join(c.Dir, "mounts")
	if err := os.Mkdir(base, 0o700); err != nil {
		return fmt.Errorf("create mounts dir: %w", err)
	}
	var secrets string
	for n := range c.Mounts {
		m := &c.Mounts[n]
		scratch := filepath.Join(base, strconv.Itoa(n))
		if err := os.Mkdir(scratch, 0o700); err != nil {
			return fmt.Errorf("create mounts dir: %w", err)
		}
		var err error
		switch m.Type {
		case MountBind:
			err = mountBind(m, scratch, filepath.Join(c.Dir, "empty"), st)
		case MountCache:
			// A file too: docker run -v /host/file:/ctr/file.
			fi, serr := os.Stat(m.Source)
			err = bindAt(m.Source, m.Target, serr != nil || fi.IsDir(), m.ReadOnly, 0, st)
		case MountTmpfs:
			err = mountTmpfs(m, st)
		case MountSecret:
			if secrets == "" {
				// One tmpfs for every secret of the run: it exists only in
				// this mount namespace, so the content never reaches a disk.
				secrets = filepath.Join(base, "secrets")
				if err := os.Mkdir(secrets, 0o700); err != nil {
					return fmt.Errorf("create secrets dir: %w", err)
				}
				if err := unix.Mount("tmpfs", secrets, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0700,size=16m"); err != nil {
					return fmt.Errorf("mount secrets tmpfs: %w", err)
				}
			}
			err = mountSecret(m, filepath.Join(secrets, strconv.Itoa(n)), st)
		default:
			err = fmt.Errorf("%w: unknown mount type %q", ErrInvalidSpec, m.Type)
		}
		if err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.Type, m.Target, err)
		}
	}
	return nil
}

// mountBind shows m.Path of the bind source at m.Target. A writable bind,
// or one that must hide excluded files, goes through an overlay whose upper
// directory is in scratch and dies with the run.
func mountBind(m *Mount, scratch, empty string, st *stubs) error {
	throwaway := !m.ReadOnly || len(m.Excludes) > 0
	var root string
	switch {
	case m.Source != "" && !throwaway:
		root = m.Source
	case m.Source == "" && len(m.Lower) == 1 && !throwaway:
		root = m.Lower[0]
	case m.Source == "" && len(m.Lower) == 0 && !throwaway:
		root = empty
	default:
		lower := m.Lower
		if m.Source != "" {
			lower = []string{m.Source}
		}
		root = filepath.Join(scratch, "root")
		upper, work := filepath.Join(scratch, "upper"), filepath.Join(scratch, "work")
		for _, d := range []string{root, upper, work} {
			if err := os.Mkdir(d, 0o755); err != nil {
				return err
			}
		}
		var err error
		if throwaway {
			err = mountOverlay(root, lower, empty, upper, work)
		} else {
			err = mountOverlay(root, lower, empty, "", "")
		}
		if err != nil {
			return err
		}
		if len(m.Excludes) > 0 {
			if err := hideExcluded(root, m.Excludes); err != nil {
				return err
			}
		}
	}
	src, err := securejoin.SecureJoin(root, m.Path)
	if err != nil {
		return fmt.Errorf("resolve source %q: %w", m.Path, err)
	}
	fi, err := os.Stat(src)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return &kindError{msg: fmt.Sprintf("source %q not found", cleanRel(m.Path)), kind: ErrNotFound}
		}
		return fmt.Errorf("source %q: %w", m.Path, err)
	}
	return bindAt(src, m.Target, fi.IsDir(), m.ReadOnly, 0, st)
}

func cleanRel(p string) string {
	p = filepath.Clean("/" + p)
	if p == "/" {
		return "."
	}
	return strings.TrimPrefix(p, "/")
}

// hideExcluded removes, in the throwaway overlay at root, every path the
// .dockerignore patterns exclude: the bind shows the build context as COPY
// sees it.
func hideExcluded(root string, excludes []string) error {
	pm, err := patternmatcher.New(excludes)
	if err != nil {
		return fmt.Errorf("%w: excludes: %v", ErrInvalidSpec, err)
	}
	var walk func(dir, rel string) error
	walk = func(dir, rel string) error {
		names, err := readDirNames(dir)
		if err != nil {
			return err
		}
		for _, n := range names {
			r := n
			if rel != "" {
				r = rel + "/" + n
			}
			p := filepath.Join(dir, n)
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			excl, err := pm.MatchesOrParentMatches(r)
			if err != nil {
				return fmt.Errorf("%w: excludes: %v", ErrInvalidSpec, err)
			}
			switch {
			case excl && fi.IsDir() && pm.Exclusions():
				// A "!" pattern may bring a child back: hide the rest.
				if err := walk(p, r); err != nil {
					return err
				}
			case excl:
				if err := os.RemoveAll(p); err != nil {
					return fmt.Errorf("hide %s: %w", r, err)
				}
			case fi.IsDir():
				if err := walk(p, r); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(root, "")
}

// bindAt binds the host path src on target (resolved and created inside
// the rootfs), read-only if ro. extra are more flags for a read-only
// remount.
func bindAt(src, target string, dir, ro bool, extra uintptr, st *stubs) error {
	t, err := st.ensure(target, dir)
	if err != nil {
		return err
	}
	if err := st.mountOnto(src, t, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	if ro {
		// A bind mount ignores MS_RDONLY until remounted; until then the
		// next mount's stub could be written through this one.
		flags := uintptr(unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV) | extra
		if err := st.remountOnto(t, flags); err != nil {
			return fmt.Errorf("remount read-only: %w", err)
		}
	}
	return nil
}

func mountTmpfs(m *Mount, st *stubs) error {
	t, err := st.ensure(m.Target, true)
	if err != nil {
		return err
	}
	data := "mode=1777"
	if m.Size > 0 {
		data += ",size=" + strconv.FormatInt(m.Size, 10)
	}
	if err := st.mountOnto("tmpfs", t, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, data); err != nil {
		return err
	}
	return nil
}

// mountSecret writes the secret into the secrets tmpfs at file and binds it
// read-only on the target.
func mountSecret(m *Mount, file string, st *stubs) error {
	mode := m.Mode
	if mode == 0 {
		mode = 0o400
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(m.Data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := unix.Chown(file, m.UID, m.GID); err != nil {
		return err
	}
	if err := unix.Chmod(file, mode); err != nil {
		return err
	}
	return bindAt(file, m.Target, false, true, unix.MS_NOEXEC, st)
}
