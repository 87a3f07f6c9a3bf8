package executor

import (
	"fmt"

	"golang.org/x/sys/unix"
)

var rlimitResources = map[string]int{
	"as": unix.RLIMIT_AS, "core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU,
	"data": unix.RLIMIT_DATA, "fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS,
	"memlock": unix.RLIMIT_MEMLOCK, "msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE,
	"nofile": unix.RLIMIT_NOFILE, "nproc": unix.RLIMIT_NPROC, "rss": unix.RLIMIT_RSS,
	"rtprio": unix.RLIMIT_RTPRIO, "rttime": unix.RLIMIT_RTTIME,
	"sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK,
}

// setRlimits applies rls to the init process. It runs while the init still
// has its capabilities (raising a hard limit needs CAP_SYS_RESOURCE), before
// it changes user; limits are per process and survive exec.
func setRlimits(rls []Rlimit) error {
	for _, rl := range rls {
		res, ok := rlimitResources[rl.Name]
		if !ok {
			return fmt.Errorf("ulimit %s: unknown resource", rl.Name)
		}
		lim := unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}
		if err := unix.Prlimit(0, res, &lim, nil); err != nil {
			return fmt.Errorf("ulimit %s=%d:%d: %w", rl.Name, rl.Soft, rl.Hard, err)
		}
	}
	return nil
}
