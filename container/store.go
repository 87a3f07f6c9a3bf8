package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Store is the containers/ directory of a kiln root.
type Store struct {
	dir string
}

// Open returns the Store in dir, creating dir if missing.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open containers %s: %w", dir, err)
	}
	return &Store{dir: dir}, nil
}

// RunDir is the one directory on which every container's init mounts its
// scratch tmpfs, each in a mount namespace of its own
// (executor.WithRunDir): nothing to make or remove per start.
func (s *Store) RunDir() (string, error) {
	dir := filepath.Join(s.dir, ".run")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("run dir: %w", err)
	}
	return dir, nil
}

// Networks opens the networks/ directory beside this one.
func (s *Store) Networks() (*NetworkStore, error) {
	return OpenNetworks(filepath.Join(filepath.Dir(s.dir), "networks"))
}

// lock serialises changes to names (create, remove) across processes.
func (s *Store) lock() (func(), error) {
	return lockDir(s.dir, "containers")
}

// recordDirs names the records in dir, a directory per container, network
// or volume; dot-names are work in progress (.new-, .rm-, .run) and left
// out. what names dir in errors.
func recordDirs(dir, what string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// lockDir takes dir's .lock file exclusively; what names dir in errors.
func lockDir(dir, what string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", what, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", what, err)
	}
	return func() { f.Close() }, nil
}

// Create records a new container in the created state. An empty Name gets
// a random one; an empty ID a new one; a name in use is ErrNameInUse.
func (s *Store) Create(cfg Config) (*Container, error) {
	if cfg.ID == "" {
		cfg.ID = NewID()
	}
	if cfg.Name != "" {
		if err := ValidateName(cfg.Name); err != nil {
			return nil, err
		}
	}
	if cfg.Created.IsZero() {
		cfg.Created = time.Now()
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	all, err := s.list()
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, c := range all {
		names[c.Config.Name] = c.Config.ID
	}
	if cfg.Name == "" {
		for i := 0; ; i++ {
			cfg.Name = randomName()
			if i > 20 {
				cfg.Name += "_" + cfg.ID[:6]
			}
			if _, ok := names[cfg.Name]; !ok {
				break
			}
		}
	} else if id, ok := names[cfg.Name]; ok {
		return nil, fmt.Errorf("%w: %q is used by container %s; remove or rename that container to reuse it", ErrNameInUse, cfg.Name, id[:12])
	}
	c := &Container{Config: cfg, State: State{Status: Created}, dir: filepath.Join(s.dir, cfg.ID)}
	// Built aside and renamed into place, so a reader never sees a
	// container without its config.
	tmp, err := os.MkdirTemp(s.dir, ".new-")
	if err != nil {
		return nil, fmt.Errorf("create container: %w", err)
	}
	for _, d := range []string{"upper", "work"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			os.RemoveAll(tmp)
			return nil, fmt.Errorf("create container: %w", err)
		}
	}
	if err := writeJSON(filepath.Join(tmp, "config.json"), c.Config); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	// No state.json until the first start: a missing one says created.
	// The start's then lands on no earlier file, and ext4, which flushes
	// a file renamed over another at once (auto_da_alloc), leaves it in
	// memory; removing a --rm container's record would otherwise wait
	// for that write (~1.5 ms here).
	if err := os.Rename(tmp, c.dir); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("create container: %w", err)
	}
	return c, nil
}

// Get finds a container by full ID, name, or unique ID prefix, and
// reconciles its state.
func (s *Store) Get(ref string) (*Container, error) {
	if ref == "" {
		return nil, fmt.Errorf("%w: empty name", ErrNotFound)
	}
	if c, err := s.load(ref); err == nil {
		return c, nil
	}
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	var found []*Container
	for _, c := range all {
		if c.Config.Name == ref {
			return c, nil
		}
		if strings.HasPrefix(c.Config.ID, ref) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("%w: %s matches %d containers", ErrAmbiguous, ref, len(found))
}

// List returns every container, newest first, with reconciled states.
func (s *Store) List() ([]*Container, error) {
	all, err := s.list()
	if err != nil {
		return nil, err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Config.Created.After(all[j].Config.Created) })
	return all, nil
}

func (s *Store) list() ([]*Container, error) {
	names, err := recordDirs(s.dir, "containers")
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, name := range names {
		c, err := s.load(name)
		if err != nil {
			// Removed meanwhile, or half removed: not a container.
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

func (s *Store) load(id string) (*Container, error) {
	if strings.ContainsAny(id, `/\`) || strings.HasPrefix(id, ".") {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	c := &Container{dir: filepath.Join(s.dir, id)}
	if err := readJSON(filepath.Join(c.dir, "config.json"), &c.Config); err != nil {
		return nil, err
	}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload rereads the container's state and reconciles it.
func (c *Container) Reload() error {
	st := State{Status: Created} // never started: Create writes no state
	b, err := os.ReadFile(filepath.Join(c.dir, "state.json"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, err := os.Stat(filepath.Join(c.dir, "config.json")); err != nil {
			return fmt.Errorf("%w: %s", ErrNotFound, filepath.Base(c.dir))
		}
	case err != nil:
		return fmt.Errorf("read state.json: %w", err)
	default:
		if err := json.Unmarshal(b, &st); err != nil {
			// Written but not yet on disk when the machine stopped: the
			// container is not running now, whatever it was then.
			st = State{Status: Exited, ExitCode: 128 + 9, Error: "its state was lost (state.json unreadable after a crash)"}
		}
	}
	c.State = st
	c.reconcile()
	return nil
}

// SaveState writes c.State atomically.
func (c *Container) SaveState() error {
	return writeJSON(filepath.Join(c.dir, "state.json"), c.State)
}

// Remove deletes the container's directory and cgroup. The caller makes
// sure no process of it is left.
func (s *Store) Remove(c *Container) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	// The cgroups go meanwhile: the kernel's rmdirs and the files' unlinks
	// wait on different things (~0.8 and ~1 ms for a kiln run --rm here).
	cgroupsGone := make(chan struct{})
	go func() {
		_ = RemoveCgroup(c.Config.ID)
		close(cgroupsGone)
	}()
	defer func() { <-cgroupsGone }()
	// Renamed away first, so no reader sees a half-removed container.
	gone := filepath.Join(s.dir, ".rm-"+c.Config.ID)
	if err := os.Rename(c.dir, gone); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove container %s: %w", c.Config.Name, err)
	}
	if err := os.RemoveAll(gone); err != nil {
		return fmt.Errorf("remove container %s: %w", c.Config.Name, err)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s", ErrNotFound, filepath.Base(filepath.Dir(path)))
		}
		return fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}
