package executor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// A container keeps CAP_MKNOD, as under Docker, so it can make any device
// node. What stops it from using one (`mknod /tmp/sda b 8 0`, then read
// the host's disk) is the device list Docker enforces:
//
//   - with a cgroup v1 devices controller, the init starts in a cgroup of
//     its own that allows mknod of anything and read/write of the default
//     devices only, exactly Docker's rules;
//   - without one (cgroup v2 enforces device rules with eBPF programs, which
//     kiln does not load), the rootfs and /dev are mounted nodev, so no
//     device node the container makes can be opened. The default devices
//     are bind mounts of the host's and stay usable. The cost: a RUN that
//     makes device nodes for a chroot (debootstrap) cannot use them.

// devicesRoot is where a cgroup v1 devices hierarchy is mounted; a var
// so tests can take the nodev path on a host that has one.
var devicesRoot = "/sys/fs/cgroup/devices"

// defaultDeviceRules are Docker's: mknod of anything, read and write of the
// default devices.
var defaultDeviceRules = []string{
	"c *:* m", "b *:* m",
	"c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", // null zero full random urandom
	"c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", // tty console ptmx pts
	"c 10:200 rwm", // net/tun
}

// deviceCgroup is the devices cgroup a container's init runs in, or nil.
type deviceCgroup struct{ dir string }

var cgroupSeq atomic.Uint64

// newDeviceCgroup makes a cgroup with the default device rules; nil, nil
// when the host has no cgroup v1 devices controller.
func newDeviceCgroup() (*deviceCgroup, error) {
	if _, err := os.Stat(filepath.Join(devicesRoot, "devices.allow")); err != nil {
		return nil, nil
	}
	sweepOnce.Do(sweepDeviceCgroups)
	dir := filepath.Join(devicesRoot, fmt.Sprintf("kiln-%d-%d", os.Getpid(), cgroupSeq.Add(1)))
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, unix.EROFS) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			// kiln itself runs confined (in a container, say): the
			// nodev mounts still hold.
			return nil, nil
		}
		return nil, fmt.Errorf("create devices cgroup: %w", err)
	}
	g := &deviceCgroup{dir: dir}
	if err := g.write("devices.deny", "a"); err != nil {
		g.remove()
		return nil, err
	}
	for _, r := range defaultDeviceRules {
		if err := g.write("devices.allow", r); err != nil {
			g.remove()
			return nil, err
		}
	}
	return g, nil
}

func (g *deviceCgroup) write(file, v string) error {
	if err := os.WriteFile(filepath.Join(g.dir, file), []byte(v), 0o644); err != nil {
		return fmt.Errorf("devices cgroup %s %q: %w", file, v, err)
	}
	return nil
}

var sweepOnce sync.Once

// sweepDeviceCgroups removes the cgroups of kiln processes that died
// without removing theirs (kill -9): empty, they are only clutter.
func sweepDeviceCgroups() {
	dirs, _ := filepath.Glob(filepath.Join(devicesRoot, "kiln-*-*"))
	for _, d := range dirs {
		f := strings.Split(filepath.Base(d), "-")
		if len(f) != 3 {
			continue
		}
		pid, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			continue // its kiln still runs
		}
		_ = unix.Rmdir(d) // fails, as it should, while a process is in it
	}
}

// remove deletes the cgroup once the processes in it are gone; the kernel
// reaps a dead namespace's processes asynchronously, so it retries briefly.
func (g *deviceCgroup) remove() {
	if g == nil {
		return
	}
	for i := 0; i < 50; i++ {
		err := unix.Rmdir(g.dir)
		if err == nil || errors.Is(err, unix.ENOENT) || !errors.Is(err, unix.EBUSY) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// nodevRootfs remounts the rootfs nodev, for hosts without a devices
// cgroup: see above.
func nodevRootfs(root string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		return fmt.Errorf("statfs rootfs: %w", err)
	}
	flags := uintptr(unix.MS_REMOUNT|unix.MS_BIND|unix.MS_NODEV) | uintptr(st.Flags&unix.MS_RDONLY)
	if err := unix.Mount("", root, "", flags, ""); err != nil {
		return fmt.Errorf("remount rootfs nodev: %w", err)
	}
	return nil
}

// devTmpfsFlags are the extra flags of the /dev tmpfs: nodev without a
// devices cgroup.
func devTmpfsFlags(c *secConfig) uintptr {
	if c != nil && c.NoDev {
		return unix.MS_NODEV
	}
	return 0
}
