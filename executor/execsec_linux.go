package executor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// kiln exec starts its process from a helper that joined the container's
// namespaces but not its confinement. Without what follows, the process
// would run with every capability, no seccomp filter and outside the
// devices cgroup: root on the host in all but the mount namespace.

// confineHelper gives the exec helper the container's user, capabilities,
// seccomp filter and no_new_privs, in the order initRun does it; the
// process it forks inherits them all. The user switch is the helper's, not
// the forked child's, so it happens while the helper still has the
// capabilities it needs (a container run with --cap-drop SETGID can still
// be exec'd into, as under Docker).
func (c *secConfig) confineHelper(u execUser) error {
	if c == nil {
		return fmt.Errorf("%w: no security settings", ErrInvalidSpec)
	}
	if err := c.becomeUser(u); err != nil {
		return err
	}
	return c.beforeExec()
}

// devicesCgroupOf returns the devices cgroup (v1) the process ctr is in, if
// it is one of kiln's, or "": the exec'd process gets the container's
// device rules.
func devicesCgroupOf(ctr int) (string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(ctr) + "/cgroup")
	if err != nil {
		return "", fmt.Errorf("read the container's cgroups: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// hierarchy-ID:controller-list:path
		f := strings.SplitN(sc.Text(), ":", 3)
		if len(f) != 3 || !hasString(strings.Split(f[1], ","), "devices") {
			continue
		}
		if !strings.HasPrefix(filepath.Base(f[2]), "kiln-") {
			return "", nil // not one of ours (--privileged, or no v1 devices)
		}
		dir := devicesController().Path(filepath.Clean("/" + f[2]))
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return "", nil // the container is going away
		}
		return dir, nil
	}
	return "", nil
}
