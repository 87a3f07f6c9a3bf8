package main

import (
	"encoding/csv"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/kiln-build/kiln/container"
)

// parseVolumeFlag parses -v: /host:/ctr[:opts] (a bind), NAME:/ctr[:opts]
// (a named volume) or /ctr alone (an anonymous volume). opts are ro or rw.
func parseVolumeFlag(s string) (container.Mount, error) {
	bad := func(why string) (container.Mount, error) {
		return container.Mount{}, fmt.Errorf("-v %s: %s", s, why)
	}
	parts := strings.Split(s, ":")
	var m container.Mount
	switch len(parts) {
	case 1:
		m = container.Mount{Type: container.MountVolume, Target: parts[0], Anonymous: true}
	case 2, 3:
		m = container.Mount{Source: parts[0], Target: parts[1]}
		if len(parts) == 3 {
			for _, o := range strings.Split(parts[2], ",") {
				switch o {
				case "ro":
					m.ReadOnly = true
				case "rw":
					m.ReadOnly = false
				case "z", "Z", "":
					// SELinux relabelling: nothing to do without SELinux.
				default:
					return bad(fmt.Sprintf("unknown option %q (want ro or rw)", o))
				}
			}
		}
	default:
		return bad("want [SOURCE:]TARGET[:ro|rw]")
	}
	switch {
	case m.Source == "" && len(parts) > 1:
		return bad("empty source")
	case m.Anonymous:
	case strings.HasPrefix(m.Source, "/"):
		m.Type = container.MountBind
		m.Source = path.Clean(m.Source)
	case strings.HasPrefix(m.Source, ".") || strings.Contains(m.Source, "/"):
		return bad(fmt.Sprintf("%q is neither an absolute host path nor a volume name", m.Source))
	default:
		if err := container.ValidateVolumeName(m.Source); err != nil {
			return bad(err.Error())
		}
		m.Type = container.MountVolume
	}
	if err := checkTarget(m.Target); err != nil {
		return bad(err.Error())
	}
	m.Target = path.Clean(m.Target)
	return m, nil
}

// parseMountFlag parses --mount: comma-separated key=value pairs as Docker
// takes them (type=bind|volume|tmpfs, source, target, readonly, tmpfs-size).
func parseMountFlag(s string) (container.Mount, error) {
	bad := func(why string) (container.Mount, error) {
		return container.Mount{}, fmt.Errorf("--mount %s: %s", s, why)
	}
	r := csv.NewReader(strings.NewReader(s))
	fields, err := r.Read()
	if err != nil {
		return bad(err.Error())
	}
	m := container.Mount{Type: container.MountVolume}
	for _, f := range fields {
		k, v, hasV := strings.Cut(f, "=")
		switch strings.ToLower(k) {
		case "type":
			switch v {
			case container.MountBind, container.MountVolume, container.MountTmpfs:
				m.Type = v
			default:
				return bad(fmt.Sprintf("unknown type %q (want bind, volume or tmpfs)", v))
			}
		case "source", "src":
			m.Source = v
		case "target", "destination", "dst":
			m.Target = v
		case "readonly", "ro":
			if !hasV {
				m.ReadOnly = true
				break
			}
			b, err := strconv.ParseBool(v)
			if err != nil {
				return bad(fmt.Sprintf("readonly=%s: want true or false", v))
			}
			m.ReadOnly = b
		case "tmpfs-size":
			n, err := tmpfsSize(v)
			if err != nil {
				return bad(fmt.Sprintf("tmpfs-size: %v", err))
			}
			m.Size = n
		case "bind-propagation", "volume-nocopy", "tmpfs-mode", "consistency":
			// Accepted for Docker compatibility; kiln's defaults apply.
		default:
			return bad(fmt.Sprintf("unknown key %q", k))
		}
	}
	if m.Target == "" {
		return bad("target is required")
	}
	if err := checkTarget(m.Target); err != nil {
		return bad(err.Error())
	}
	m.Target = path.Clean(m.Target)
	switch m.Type {
	case container.MountBind:
		if m.Source == "" {
			return bad("source is required for a bind mount")
		}
		if !strings.HasPrefix(m.Source, "/") {
			return bad(fmt.Sprintf("bind source %q is not an absolute path", m.Source))
		}
		m.Source = path.Clean(m.Source)
	case container.MountVolume:
		if m.Source == "" {
			m.Anonymous = true
		} else if err := container.ValidateVolumeName(m.Source); err != nil {
			return bad(err.Error())
		}
	case container.MountTmpfs:
		if m.Source != "" {
			return bad("a tmpfs has no source")
		}
		if m.ReadOnly {
			return bad("a read-only tmpfs is not supported")
		}
	}
	if m.Size != 0 && m.Type != container.MountTmpfs {
		return bad("tmpfs-size applies to type=tmpfs only")
	}
	return m, nil
}

// parseTmpfsFlag parses --tmpfs /ctr[:opts], opts as mount(8)'s tmpfs
// options of which kiln takes size= (and accepts mode=, rw, noexec, …).
func parseTmpfsFlag(s string) (container.Mount, error) {
	target, opts, _ := strings.Cut(s, ":")
	m := container.Mount{Type: container.MountTmpfs, Target: target}
	if err := checkTarget(target); err != nil {
		return container.Mount{}, fmt.Errorf("--tmpfs %s: %v", s, err)
	}
	m.Target = path.Clean(target)
	if opts != "" {
		for _, o := range strings.Split(opts, ",") {
			k, v, _ := strings.Cut(o, "=")
			switch k {
			case "size":
				n, err := tmpfsSize(v)
				if err != nil {
					return container.Mount{}, fmt.Errorf("--tmpfs %s: size: %v", s, err)
				}
				m.Size = n
			case "rw", "mode", "noexec", "exec", "nosuid", "suid", "nodev", "dev", "uid", "gid":
			default:
				return container.Mount{}, fmt.Errorf("--tmpfs %s: unknown option %q", s, k)
			}
		}
	}
	return m, nil
}

func checkTarget(t string) error {
	switch {
	case t == "":
		return fmt.Errorf("empty target")
	case !strings.HasPrefix(t, "/"):
		return fmt.Errorf("target %q is not an absolute path", t)
	case path.Clean(t) == "/":
		return fmt.Errorf("cannot mount on /")
	}
	return nil
}

// tmpfsSize is tmpfs-size's and size='s value: Docker's units, no -1.
func tmpfsSize(s string) (int64, error) {
	n, err := container.ParseSize(s)
	if err == nil && n < 0 {
		err = fmt.Errorf("invalid size %q", s)
	}
	return n, err
}

// addMountFlags adds run's and create's -v, --mount and --tmpfs.
func addMountFlags(fl *pflag.FlagSet, f *runFlags) {
	fl.StringArrayVarP(&f.volumes, "volume", "v", nil, "bind a host directory or a named volume: [SOURCE:]TARGET[:ro]; repeatable")
	fl.StringArrayVar(&f.mounts, "mount", nil, "attach a mount: type=bind|volume|tmpfs,source=…,target=…[,readonly][,tmpfs-size=…]; repeatable")
	fl.StringArrayVar(&f.tmpfs, "tmpfs", nil, "mount a tmpfs: PATH[:size=…]; repeatable")
}
