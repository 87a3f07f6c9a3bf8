package executor

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// secConfig is a Spec's Security as the parent resolved it, for the init.
type secConfig struct {
	Caps       capMask
	NoMask     bool            // --privileged: no masked or read-only paths
	Seccomp    string          // "default", "unconfined" or "profile"
	Profile    *SeccompProfile `json:",omitempty"`
	NoNewPrivs bool
	NoDev      bool // no devices cgroup: mount the rootfs and /dev nodev
}

func (s *Security) resolve() (*secConfig, error) {
	caps, err := s.caps()
	if err != nil {
		return nil, err
	}
	c := &secConfig{Caps: caps, NoMask: s.Privileged, Seccomp: "default", NoNewPrivs: s.NoNewPrivileges}
	switch {
	case s.Privileged || s.SeccompUnconfined:
		c.Seccomp = "unconfined"
	case s.Seccomp != nil:
		c.Seccomp, c.Profile = "profile", s.Seccomp
	}
	if c.Seccomp != "unconfined" && nativeArch == 0 {
		return nil, fmt.Errorf("%w: seccomp is not implemented on this architecture (use seccomp=unconfined)", ErrInvalidSpec)
	}
	return c, nil
}

// The init changes credentials in this order, as runc does:
//
//	after pivot_root and every mount (they need CAP_SYS_ADMIN):
//	  beforeCreds: seccomp, unless it can wait (see lateSeccomp);
//	               drop the bounding set (needs CAP_SETPCAP); PR_SET_KEEPCAPS
//	  setgroups, setgid, setuid           (KEEPCAPS keeps the permitted set)
//	  afterCreds:  capset(effective = permitted = caps, inheritable = none),
//	               clear the ambient set
//	  … pdeathsig, lookPath, close_range …
//	  beforeExec:  no_new_privs, then seccomp if it waited
//	  execve
//
// Installing a filter needs no_new_privs or CAP_SYS_ADMIN. When neither
// holds at the end, the filter goes in before the credential change; every
// syscall the init makes after it (setuid, capset, prctl, close_range,
// write, execve) is one the default profile allows.

// lateSeccomp reports whether the filter can be installed just before
// execve, where it sees the fewest of the init's own syscalls.
func (c *secConfig) lateSeccomp() bool {
	return c.NoNewPrivs || c.Caps&(1<<capSysAdmin) != 0
}

func (c *secConfig) beforeCreds() error {
	if !c.lateSeccomp() {
		if err := c.installSeccomp(); err != nil {
			return err
		}
	}
	last, err := lastCap()
	if err != nil {
		return err
	}
	for i := 0; i <= last; i++ {
		if c.Caps&(1<<i) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(i), 0, 0, 0); err != nil {
			return fmt.Errorf("drop capability %d from the bounding set: %w", i, err)
		}
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set keepcaps: %w", err)
	}
	return nil
}

func (c *secConfig) afterCreds() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var cur [2]unix.CapUserData
	if err := unix.Capget(&hdr, &cur[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	// Only what the host granted us: ALL means all of those.
	have := capMask(cur[0].Permitted) | capMask(cur[1].Permitted)<<32
	keep := c.Caps & have
	// Inheritable stays empty, as Moby has since CVE-2022-24769: with it
	// set, a binary carrying inheritable file capabilities would hand them
	// to an unprivileged user.
	data := [2]unix.CapUserData{
		{Effective: uint32(keep), Permitted: uint32(keep)},
		{Effective: uint32(keep >> 32), Permitted: uint32(keep >> 32)},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset %s: %w", keep, err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	return nil
}

// becomeUser switches to u keeping the capabilities c allows:
// beforeCreds, setgroups, setgid, setuid, afterCreds.
func (c *secConfig) becomeUser(u execUser) error {
	if err := c.beforeCreds(); err != nil {
		return err
	}
	// syscall's set*id apply to every thread of the process.
	if err := syscall.Setgroups(u.Sgids); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(u.GID); err != nil {
		return fmt.Errorf("setgid %d: %w", u.GID, err)
	}
	if err := syscall.Setuid(u.UID); err != nil {
		return fmt.Errorf("setuid %d: %w", u.UID, err)
	}
	return c.afterCreds()
}

func (c *secConfig) beforeExec() error {
	if c.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("set no_new_privs: %w", err)
		}
	}
	if c.lateSeccomp() {
		return c.installSeccomp()
	}
	return nil
}

// lastCap is the highest capability the kernel knows. It asks prctl rather
// than /proc/sys/kernel/cap_last_cap: the image may have hidden that file
// (a /dev symlink into /proc/sys puts our /dev tmpfs over it).
func lastCap() (int, error) {
	for i := 0; i < 64; i++ {
		if _, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(i), 0, 0, 0); err != nil {
			if i == 0 {
				return 0, fmt.Errorf("read the bounding set: %w", err)
			}
			return i - 1, nil
		}
	}
	return 63, nil
}
