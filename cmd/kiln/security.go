package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/kiln-build/kiln/executor"
)

// securityFlags are kiln run's --cap-add, --cap-drop, --privileged and
// --security-opt, as Docker spells them.
type securityFlags struct {
	capAdd, capDrop []string
	privileged      bool
	opts            []string
}

func (f *securityFlags) register(fl *pflag.FlagSet) {
	fl.StringSliceVar(&f.capAdd, "cap-add", nil, "add Linux capabilities (NAME, CAP_NAME or ALL); repeatable")
	fl.StringSliceVar(&f.capDrop, "cap-drop", nil, "drop Linux capabilities (NAME, CAP_NAME or ALL); repeatable")
	fl.BoolVar(&f.privileged, "privileged", false, "give the container every capability, no seccomp filter and no masked paths")
	fl.StringArrayVar(&f.opts, "security-opt", nil, "seccomp=unconfined|PROFILE.json, no-new-privileges[=true|false]; repeatable")
}

// security turns the flags into the executor's Security; readFile reads a
// seccomp profile.
func (f *securityFlags) security(readFile func(string) ([]byte, error)) (executor.Security, error) {
	s := executor.Security{CapAdd: f.capAdd, CapDrop: f.capDrop, Privileged: f.privileged}
	for _, o := range f.opts {
		k, v, hasV := strings.Cut(o, "=")
		if !hasV {
			// Docker also takes the old "key:value" spelling.
			k, v, hasV = strings.Cut(o, ":")
		}
		switch k {
		case "seccomp":
			switch {
			case !hasV || v == "":
				return s, fmt.Errorf("--security-opt %s: want seccomp=unconfined or seccomp=PROFILE.json", o)
			case v == "unconfined":
				s.SeccompUnconfined, s.Seccomp = true, nil
			default:
				data, err := readFile(v)
				if err != nil {
					return s, fmt.Errorf("--security-opt seccomp: %w", err)
				}
				p, err := executor.ParseSeccompProfile(data)
				if err != nil {
					return s, fmt.Errorf("--security-opt seccomp=%s: %w", v, err)
				}
				s.Seccomp, s.SeccompUnconfined = p, false
			}
		case "no-new-privileges":
			switch v {
			case "", "true":
				s.NoNewPrivileges = true
			case "false":
				s.NoNewPrivileges = false
			default:
				return s, fmt.Errorf("--security-opt %s: want no-new-privileges, =true or =false", o)
			}
		default:
			return s, fmt.Errorf("--security-opt %s: unknown option %q (kiln knows seccomp and no-new-privileges)", o, k)
		}
	}
	return s, s.Validate()
}

// warnPrivileged says, once, what --privileged gives away.
func warnPrivileged() {
	fmt.Fprintln(os.Stderr, "WARNING: --privileged: the container gets every capability, no seccomp filter and no masked paths; it can take over the host")
}
