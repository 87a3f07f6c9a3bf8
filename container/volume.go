package container

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Mount types of Config.Mounts, as docker run --mount names them.
const (
	MountBind   = "bind"   // Source is a host path
	MountVolume = "volume" // Source is a volume name
	MountTmpfs  = "tmpfs"  // a fresh tmpfs at every start
)

// Mount is one -v, --mount or --tmpfs of a container, or an anonymous volume
// for the image's VOLUME entries. It is kept in the config, so every start
// and restart mounts the same things.
type Mount struct {
	Type     string
	Source   string `json:",omitempty"` // host path (bind) or volume name (volume)
	Target   string // absolute path in the container
	ReadOnly bool   `json:",omitempty"`
	Size     int64  `json:",omitempty"` // tmpfs: bytes, 0 for the kernel's default
	// Anonymous marks a volume made for this container alone: rm -v and
	// --rm remove it with the container.
	Anonymous bool `json:",omitempty"`
}

// Sentinel errors of volumes. (Here rather than in errors.go while the
// container runtime grows in parallel branches; the lead may move them.)
var (
	// ErrVolumeNotFound reports a name that matches no volume.
	ErrVolumeNotFound = errors.New("no such volume")
	// ErrInvalidVolumeName reports a name Docker's rules would refuse.
	ErrInvalidVolumeName = errors.New("invalid volume name")
	// ErrVolumeInUse reports a volume a container still mounts.
	ErrVolumeInUse = errors.New("volume is in use")
)

// Volume is a named volume: a directory in the store that outlives the
// containers using it.
type Volume struct {
	Name       string
	Driver     string
	Mountpoint string
	CreatedAt  time.Time
	// Anonymous volumes are made for an image's VOLUME entries.
	Anonymous bool `json:",omitempty"`
}

// VolumeStore is the volumes/ directory of a kiln root: volumes/NAME/ holds
// volume.json and the content, _data.
type VolumeStore struct {
	dir string
}

// OpenVolumes returns the VolumeStore in dir, creating dir if missing.
func OpenVolumes(dir string) (*VolumeStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open volumes %s: %w", dir, err)
	}
	return &VolumeStore{dir: dir}, nil
}

// Volumes is the volume store of the root s belongs to.
func (s *Store) Volumes() (*VolumeStore, error) {
	return OpenVolumes(filepath.Join(filepath.Dir(s.dir), "volumes"))
}

// Volumes is the volume store of the root c belongs to.
func (c *Container) Volumes() (*VolumeStore, error) {
	return OpenVolumes(filepath.Join(filepath.Dir(filepath.Dir(c.dir)), "volumes"))
}

// ValidateVolumeName checks a volume name against Docker's rule,
// [a-zA-Z0-9][a-zA-Z0-9_.-]+: at least two characters.
func ValidateVolumeName(s string) error {
	if len(s) < 2 || !ValidName(s) {
		return fmt.Errorf("%w %q: names are [a-zA-Z0-9][a-zA-Z0-9_.-]+", ErrInvalidVolumeName, s)
	}
	return nil
}

func (s *VolumeStore) lock() (func(), error) {
	return lockDir(s.dir, "volumes")
}

// Create makes the volume name (a random one if empty) or, when it exists,
// returns it: created says which, as docker volume create is idempotent.
func (s *VolumeStore) Create(name string, anonymous bool) (v *Volume, created bool, err error) {
	if name == "" {
		name = NewID()
	}
	if err := ValidateVolumeName(name); err != nil {
		return nil, false, err
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	if v, err := s.Get(name); err == nil {
		return v, false, nil
	}
	v = &Volume{Name: name, Driver: "local", CreatedAt: time.Now().UTC().Truncate(time.Second), Anonymous: anonymous}
	// Built aside and renamed into place: no reader sees a volume without
	// its record.
	tmp, err := os.MkdirTemp(s.dir, ".new-")
	if err != nil {
		return nil, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	if err := os.Mkdir(filepath.Join(tmp, "_data"), 0o755); err != nil {
		os.RemoveAll(tmp)
		return nil, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	if err := writeJSON(filepath.Join(tmp, "volume.json"), v); err != nil {
		os.RemoveAll(tmp)
		return nil, false, err
	}
	if err := os.Chmod(tmp, 0o700); err == nil {
		err = os.Rename(tmp, filepath.Join(s.dir, name))
		if err != nil {
			os.RemoveAll(tmp)
			return nil, false, fmt.Errorf("create volume %s: %w", name, err)
		}
	}
	v.Mountpoint = s.data(name)
	return v, true, nil
}

func (s *VolumeStore) data(name string) string { return filepath.Join(s.dir, name, "_data") }

// Get returns the volume name, or ErrVolumeNotFound.
func (s *VolumeStore) Get(name string) (*Volume, error) {
	if ValidateVolumeName(name) != nil {
		return nil, fmt.Errorf("%w: %s", ErrVolumeNotFound, name)
	}
	var v Volume
	if err := readJSON(filepath.Join(s.dir, name, "volume.json"), &v); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%w: %s", ErrVolumeNotFound, name)
		}
		return nil, fmt.Errorf("volume %s: %w", name, err)
	}
	v.Mountpoint = s.data(name)
	return &v, nil
}

// List returns every volume, by name.
func (s *VolumeStore) List() ([]*Volume, error) {
	names, err := recordDirs(s.dir, "volumes")
	if err != nil {
		return nil, err
	}
	var out []*Volume
	for _, name := range names {
		if v, err := s.Get(name); err == nil {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes the volume name and its content. Whether a container
// still uses it is the caller's question (see UsedBy).
func (s *VolumeStore) Remove(name string) error {
	if _, err := s.Get(name); err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	gone := filepath.Join(s.dir, ".rm-"+name)
	if err := os.Rename(filepath.Join(s.dir, name), gone); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	if err := os.RemoveAll(gone); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	return nil
}

// UsedBy returns the names of the containers whose config mounts the volume
// name, running or not, as docker volume rm checks.
func UsedBy(all []*Container, name string) []string {
	var out []string
	for _, c := range all {
		for _, m := range c.Config.Mounts {
			if m.Type == MountVolume && m.Source == name {
				out = append(out, c.Config.Name)
				break
			}
		}
	}
	return out
}

// Lock serialises the filling of v from an image.
func (v *Volume) Lock() (func(), error) {
	return lockDir(filepath.Dir(v.Mountpoint), "volume "+v.Name)
}

// IsEmpty reports whether the volume has no content yet: a first use then
// copies the image's files at the mount target into it, as Docker does.
func (v *Volume) IsEmpty() (bool, error) {
	f, err := os.Open(v.Mountpoint)
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	return len(names) == 0 && (err == nil || errors.Is(err, io.EOF)), nil
}
