package dockerfile

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SHELL, STOPSIGNAL, HEALTHCHECK, VOLUME, MAINTAINER and ONBUILD: config
// only, no llb op.

// shell sets the shell later shell-form RUN, CMD and ENTRYPOINT use. Docker
// keeps it in the image config (ImageConfig.Shell); it is not expanded.
func (d *dispatch) shell(ins instruction) error {
	if !ins.json {
		return syntaxErrorf("SHELL requires the arguments to be in JSON form")
	}
	if len(ins.args) == 0 {
		return syntaxErrorf("SHELL requires at least one argument")
	}
	d.image.Config.Shell = append([]string(nil), ins.args...)
	d.history(fmt.Sprintf("SHELL %v", d.image.Config.Shell), false)
	return nil
}

// signalNames are the Linux signal names Docker's signal.ParseSignal
// accepts (without the SIG prefix).
var signalNames = map[string]bool{
	"ABRT": true, "ALRM": true, "BUS": true, "CHLD": true, "CLD": true, "CONT": true, "FPE": true,
	"HUP": true, "ILL": true, "INT": true, "IO": true, "IOT": true, "KILL": true, "PIPE": true,
	"POLL": true, "PROF": true, "PWR": true, "QUIT": true, "SEGV": true, "STKFLT": true,
	"STOP": true, "SYS": true, "TERM": true, "TRAP": true, "TSTP": true, "TTIN": true, "TTOU": true,
	"URG": true, "USR1": true, "USR2": true, "VTALRM": true, "WINCH": true, "XCPU": true,
	"XFSZ": true, "RTMIN": true, "RTMAX": true,
}

var realtimeSignal = regexp.MustCompile(`^RTM(IN\+([1-9]|1[0-5])|AX-([1-9]|1[0-4]))$`)

// validSignal is Docker's rule: a positive number, or a name with or
// without "SIG".
func validSignal(s string) bool {
	if n, err := strconv.Atoi(s); err == nil {
		return n > 0 && n <= 64
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	return signalNames[name] || realtimeSignal.MatchString(name)
}

func (d *dispatch) stopSignal(ins instruction) error {
	sig, err := expand(ins.args[0], d.escape, d.scope.lookup)
	if err != nil {
		return err
	}
	if !validSignal(sig) {
		return syntaxErrorf("invalid signal: %s", sig)
	}
	d.image.Config.StopSignal = sig
	d.history("STOPSIGNAL "+sig, false)
	return nil
}

var healthcheckFlags = flagSpec{
	"interval": flagValue, "timeout": flagValue, "start-period": flagValue,
	"start-interval": flagValue, "retries": flagValue,
}

// healthcheck parses HEALTHCHECK as BuildKit's instructions package does.
// It is not expanded (Docker's list of expanding instructions omits it):
// the command runs in a shell, which expands.
func (d *dispatch) healthcheck(ins instruction) error {
	hc, err := parseHealthcheck(ins)
	if err != nil {
		return err
	}
	d.image.Config.Healthcheck = hc
	d.history(fmt.Sprintf("HEALTHCHECK %+v", *hc), false)
	return nil
}

func parseHealthcheck(ins instruction) (*HealthConfig, error) {
	typ := strings.ToUpper(ins.args[0])
	args := ins.args[1:]
	if typ == "NONE" {
		if len(args) != 0 || len(ins.flags) != 0 {
			return nil, syntaxErrorf("HEALTHCHECK NONE takes no arguments")
		}
		return &HealthConfig{Test: []string{"NONE"}}, nil
	}
	flags, err := parseFlags(ins.flags, healthcheckFlags)
	if err != nil {
		return nil, err
	}
	if typ != "CMD" {
		return nil, syntaxErrorf("Unknown type %q in HEALTHCHECK (try CMD)", ins.args[0])
	}
	hc := &HealthConfig{}
	if ins.json {
		hc.Test = append([]string{"CMD"}, args...)
	} else if len(args) > 0 {
		hc.Test = []string{"CMD-SHELL", strings.Join(args, " ")}
	}
	if len(hc.Test) < 2 {
		return nil, syntaxErrorf("Missing command after HEALTHCHECK CMD")
	}
	for name, dst := range map[string]*time.Duration{
		"interval": &hc.Interval, "timeout": &hc.Timeout,
		"start-period": &hc.StartPeriod, "start-interval": &hc.StartInterval,
	} {
		v, ok := flags.get(name)
		if !ok {
			continue
		}
		dur, err := time.ParseDuration(v)
		if err != nil {
			return nil, syntaxErrorf("--%s=%s: want a duration such as 30s", name, v)
		}
		if dur != 0 && dur < time.Millisecond {
			return nil, syntaxErrorf("Interval %q cannot be less than 1ms", name)
		}
		*dst = dur
	}
	if v, ok := flags.get("retries"); ok {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return nil, syntaxErrorf("--retries=%s: want a number", v)
		}
		if n < 0 {
			return nil, syntaxErrorf("--retries cannot be negative (%d)", n)
		}
		hc.Retries = int(n)
	}
	return hc, nil
}

// volume adds mount points. The JSON form is a list; the plain form is
// words. Each is expanded.
func (d *dispatch) volume(ins instruction) error {
	var vols []string
	for _, a := range ins.args {
		v, err := expand(a, d.escape, d.scope.lookup)
		if err != nil {
			return err
		}
		v = strings.TrimSpace(v)
		if v == "" {
			return syntaxErrorf("VOLUME specified can not be an empty string")
		}
		vols = append(vols, v)
	}
	if d.image.Config.Volumes == nil {
		d.image.Config.Volumes = map[string]struct{}{}
	}
	for _, v := range vols {
		d.image.Config.Volumes[v] = struct{}{}
	}
	d.history(fmt.Sprintf("VOLUME %v", vols), false)
	return nil
}

// maintainer sets the image's author, as Docker does (not a label).
func (d *dispatch) maintainer(ins instruction) error {
	a, err := expand(strings.Join(ins.args, " "), d.escape, d.scope.lookup)
	if err != nil {
		return err
	}
	d.image.Author = a
	d.c.warnings = append(d.c.warnings, fmt.Sprintf("%s:%d: MAINTAINER is deprecated: use LABEL org.opencontainers.image.authors=…", d.c.opt.File, ins.line))
	d.history("MAINTAINER "+a, false)
	return nil
}

// onbuild stores a trigger in the config. It is not expanded: the trigger
// is expanded when it runs, in the build that uses this image.
func (d *dispatch) onbuild(ins instruction) error {
	d.image.Config.OnBuild = append(d.image.Config.OnBuild, ins.trigger)
	d.history("ONBUILD "+ins.trigger, false)
	return nil
}

// checkTrigger applies Docker's restrictions to an ONBUILD trigger.
func checkTrigger(sub string) error {
	switch sub {
	case "ONBUILD":
		return syntaxErrorf("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
	case "FROM", "MAINTAINER":
		return syntaxErrorf("%s isn't allowed as an ONBUILD trigger", sub)
	}
	return nil
}
