package network

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// forwardChain holds kiln's forwarding rules; FORWARD jumps to it.
const forwardChain = "KILN-FORWARD"

// iptablesRule is one rule of a table, as iptables arguments after the
// chain name.
type iptablesRule struct {
	table, chain string
	args         []string
}

// rules are the bridge's NAT and forwarding rules, in the order they are
// appended: traffic stays within the bridge, does not cross to another
// kiln bridge, leaves through NAT, and only answers come back in.
func (b Bridge) rules() []iptablesRule {
	fwd := func(args ...string) iptablesRule { return iptablesRule{"filter", forwardChain, args} }
	rs := []iptablesRule{fwd("-i", b.Name, "-o", b.Name, "-j", "ACCEPT")}
	if b.Internal {
		return append(rs, fwd("-i", b.Name, "-j", "DROP"), fwd("-o", b.Name, "-j", "DROP"))
	}
	return append(rs,
		fwd("-i", b.Name, "-o", "kiln+", "-j", "DROP"),
		fwd("-i", b.Name, "-j", "ACCEPT"),
		fwd("-o", b.Name, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"),
		iptablesRule{"nat", "POSTROUTING", []string{"-s", b.Subnet.String(), "!", "-o", b.Name, "-j", "MASQUERADE"}},
	)
}

// errNoIptables says NAT was left out because iptables is not installed.
var errNoIptables = errors.New("iptables is not installed: containers on kiln networks cannot reach outside the host (apt-get install iptables)")

func (b Bridge) addRules() (warning, err error) {
	if _, err := exec.LookPath("iptables"); err != nil {
		return errNoIptables, nil
	}
	// The chain and the jump to it, once per host.
	if iptables("-t", "filter", "-n", "-L", forwardChain) != nil {
		if err := iptables("-t", "filter", "-N", forwardChain); err != nil {
			return nil, err
		}
	}
	if iptables("-t", "filter", "-C", "FORWARD", "-j", forwardChain) != nil {
		if err := iptables("-t", "filter", "-I", "FORWARD", "1", "-j", forwardChain); err != nil {
			return nil, err
		}
	}
	for _, r := range b.rules() {
		if iptables(append([]string{"-t", r.table, "-C", r.chain}, r.args...)...) == nil {
			continue
		}
		if err := iptables(append([]string{"-t", r.table, "-A", r.chain}, r.args...)...); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (b Bridge) removeRules() error {
	if _, err := exec.LookPath("iptables"); err != nil {
		return nil
	}
	for _, r := range b.rules() {
		// Delete every copy; -C fails once none is left.
		for iptables(append([]string{"-t", r.table, "-C", r.chain}, r.args...)...) == nil {
			if err := iptables(append([]string{"-t", r.table, "-D", r.chain}, r.args...)...); err != nil {
				return err
			}
		}
	}
	return nil
}

// iptables runs iptables, waiting for the xtables lock, and returns its
// complaint as the error.
func iptables(args ...string) error {
	out, err := exec.Command("iptables", append([]string{"-w"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
