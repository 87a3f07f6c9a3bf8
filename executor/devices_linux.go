package executor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
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

// cgroupV1Root is where cgroup v1 hierarchies are mounted, each at
// <root>/<controller> as containerd/cgroups expects; a var so tests can
// take the nodev path on a host that has a devices hierarchy.
var cgroupV1Root = "/sys/fs/cgroup"

// v1Subsystem is a containerd/cgroups v1 controller, which names the
// directories of its cgroups.
type v1Subsystem interface {
	cgroup1.Subsystem
	Path(path string) string
}

func devicesController() v1Subsystem { return cgroup1.NewDevices(cgroupV1Root) }

// defaultDeviceRules are Docker's: everything denied, then mknod of
// anything, read and write of the default devices.
var defaultDeviceRules = []specs.LinuxDeviceCgroup{
	{Allow: false, Type: "a", Access: "rwm"},
	allowDevice("c", -1, -1, "m"), allowDevice("b", -1, -1, "m"),
	allowDevice("c", 1, 3, "rwm"), allowDevice("c", 1, 5, "rwm"), allowDevice("c", 1, 7, "rwm"), // null zero full
	allowDevice("c", 1, 8, "rwm"), allowDevice("c", 1, 9, "rwm"), // random urandom
	allowDevice("c", 5, 0, "rwm"), allowDevice("c", 5, 1, "rwm"), allowDevice("c", 5, 2, "rwm"), // tty console ptmx
	allowDevice("c", 136, -1, "rwm"), // pts
	allowDevice("c", 10, 200, "rwm"), // net/tun
}

// allowDevice allows access to the devices of type typ and numbers
// major:minor, where -1 is any number, as containerd/cgroups takes it.
func allowDevice(typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	return specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: &major, Minor: &minor, Access: access}
}

// deviceCgroup is the devices cgroup a container's init runs in, or nil.
type deviceCgroup struct {
	cg  cgroup1.Cgroup
	dir string
}

var cgroupSeq atomic.Uint64

// newDeviceCgroup makes a cgroup with the default device rules, through
// containerd/cgroups' cgroup1 limited to the devices hierarchy; nil, nil
// when the host has no cgroup v1 devices controller.
func newDeviceCgroup() (*deviceCgroup, error) {
	devices := devicesController()
	if _, err := os.Stat(filepath.Join(devices.Path("/"), "devices.allow")); err != nil {
		return nil, nil
	}
	sweepOnce.Do(sweepDeviceCgroups)
	path := fmt.Sprintf("/kiln-%d-%d", os.Getpid(), cgroupSeq.Add(1))
	cg, err := cgroup1.New(cgroup1.StaticPath(path), &specs.LinuxResources{Devices: defaultDeviceRules},
		cgroup1.WithHierarchy(func() ([]cgroup1.Subsystem, error) { return []cgroup1.Subsystem{devices}, nil }))
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Op == "mkdir" &&
			(errors.Is(err, unix.EROFS) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)) {
			// kiln itself runs confined (in a container, say): the
			// nodev mounts still hold.
			return nil, nil
		}
		_ = unix.Rmdir(devices.Path(path))
		return nil, fmt.Errorf("devices cgroup: %w", err)
	}
	return &deviceCgroup{cg: cg, dir: devices.Path(path)}, nil
}

var sweepOnce sync.Once

// sweepDeviceCgroups removes the cgroups of kiln processes that died
// without removing theirs (kill -9): empty, they are only clutter.
func sweepDeviceCgroups() {
	dirs, _ := filepath.Glob(devicesController().Path("kiln-*-*"))
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
	deadline := time.Now().Add(500 * time.Millisecond)
	for g.cg.Delete() != nil && time.Now().Before(deadline) {
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
