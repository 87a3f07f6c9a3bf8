// Package starttrace prints timestamps of container start phases to stderr
// when KILN_TRACE_START=1 (a measuring aid, not committed).
package starttrace

import (
	"fmt"
	"os"
	"time"
)

var on = os.Getenv("KILN_TRACE_START") == "1"

// On reports whether tracing is on.
func On() bool { return on }

// Mark prints the current time and what happened.
func Mark(what string) {
	if !on {
		return
	}
	fmt.Fprintf(os.Stderr, "TRACE %d %d %s\n", time.Now().UnixMicro(), os.Getpid(), what)
}
