package dockerfile

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// CMD, ENTRYPOINT, USER, WORKDIR and EXPOSE: config only, no llb op.

// workdir resolves WORKDIR against the current one. It adds no op: the
// executor creates the directory when a RUN needs it and COPY creates its
// destination's parents, so an unused WORKDIR costs no layer.
func (d *dispatch) workdir(ins instruction) error {
	wd, err := expand(ins.args[0], d.escape, d.scope.lookup)
	if err != nil {
		return err
	}
	if wd == "" {
		return syntaxErrorf("WORKDIR %q expands to nothing", ins.args[0])
	}
	if !path.IsAbs(wd) {
		wd = path.Join(d.cwd(), wd)
	}
	wd = path.Clean(wd)
	d.image.Config.WorkingDir = wd
	d.history("WORKDIR "+wd, false)
	return nil
}

func (d *dispatch) user(ins instruction) error {
	u, err := expand(ins.args[0], d.escape, d.scope.lookup)
	if err != nil {
		return err
	}
	if u == "" {
		return syntaxErrorf("USER %q expands to nothing", ins.args[0])
	}
	d.image.Config.User = u
	d.history("USER "+u, false)
	return nil
}

func (d *dispatch) cmd(ins instruction) error {
	d.image.Config.Cmd = d.commandArgs(ins)
	d.cmdSet = true
	d.history(fmt.Sprintf("CMD %q", d.image.Config.Cmd), false)
	return nil
}

// entrypoint sets ENTRYPOINT and, as Docker does, drops a CMD inherited from
// the base: it was written for the old entrypoint. A CMD set earlier in the
// same stage stays.
func (d *dispatch) entrypoint(ins instruction) error {
	d.image.Config.Entrypoint = d.commandArgs(ins)
	if !d.cmdSet {
		d.image.Config.Cmd = nil
	}
	d.history(fmt.Sprintf("ENTRYPOINT %q", d.image.Config.Entrypoint), false)
	return nil
}

func (d *dispatch) expose(ins instruction) error {
	ports := map[string]struct{}{}
	for _, a := range ins.args {
		w, err := expand(a, d.escape, d.scope.lookup)
		if err != nil {
			return err
		}
		for _, spec := range strings.Fields(w) {
			ps, err := parsePorts(spec)
			if err != nil {
				return err
			}
			for _, p := range ps {
				ports[p] = struct{}{}
			}
		}
	}
	if d.image.Config.ExposedPorts == nil {
		d.image.Config.ExposedPorts = map[string]struct{}{}
	}
	for p := range ports {
		d.image.Config.ExposedPorts[p] = struct{}{}
	}
	d.history(fmt.Sprintf("EXPOSE %v", ports), false)
	return nil
}

// parsePorts reads "80", "53/udp" or a range "8000-8002/tcp" into
// "port/proto" keys, as Docker's nat.ParsePortSpecs does for EXPOSE.
func parsePorts(spec string) ([]string, error) {
	portStr, proto, ok := strings.Cut(spec, "/")
	if !ok {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return nil, syntaxErrorf("%s: invalid protocol %q, want tcp, udp or sctp", spec, proto)
	}
	loS, hiS, isRange := strings.Cut(portStr, "-")
	lo, err := strconv.ParseUint(loS, 10, 16)
	hi := lo
	if err == nil && isRange {
		hi, err = strconv.ParseUint(hiS, 10, 16)
	}
	if err != nil || lo == 0 || hi < lo {
		return nil, syntaxErrorf("%s: invalid port, want 1-65535 or a range such as 8000-8010", spec)
	}
	out := make([]string, 0, hi-lo+1)
	for p := lo; p <= hi; p++ {
		out = append(out, strconv.FormatUint(p, 10)+"/"+proto)
	}
	return out, nil
}
