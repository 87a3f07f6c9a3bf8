package container

import (
	"fmt"
	"strconv"
	"strings"
)

// NetStats is the traffic of a network namespace, loopback excluded.
type NetStats struct {
	RxBytes, TxBytes uint64
}

// OwnNetwork reports whether c has a network namespace of its own
// (none, or a bridge network). With "host" (or "", in records older than
// bridge networks) it shares the host's, whose counters tell nothing
// about the container.
func (c *Container) OwnNetwork() bool { return c.Config.Network == "none" || c.Config.Bridged() }

// parseNetDev sums the received and sent bytes of /proc/net/dev over its
// interfaces but lo:
//
//	Inter-|   Receive                            …|  Transmit
//	 face |bytes    packets errs drop fifo frame …|bytes    packets …
//	    lo:    1234      12    0    0    0     0 …    1234      12 …
//	  eth0: 5678901    4321    0    0    0     0 …  669931    6438 …
func parseNetDev(b []byte) (NetStats, error) {
	var st NetStats
	for _, line := range strings.Split(string(b), "\n") {
		name, counters, ok := strings.Cut(line, ":")
		if !ok || strings.Contains(name, "|") {
			continue // the two header lines, or blank
		}
		if strings.TrimSpace(name) == "lo" {
			continue
		}
		// 8 receive counters, then 8 transmit ones; bytes come first.
		f := strings.Fields(counters)
		if len(f) < 9 {
			return NetStats{}, fmt.Errorf("malformed net/dev line %q", line)
		}
		rx, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return NetStats{}, fmt.Errorf("malformed net/dev line %q: %w", line, err)
		}
		tx, err := strconv.ParseUint(f[8], 10, 64)
		if err != nil {
			return NetStats{}, fmt.Errorf("malformed net/dev line %q: %w", line, err)
		}
		st.RxBytes += rx
		st.TxBytes += tx
	}
	return st, nil
}
