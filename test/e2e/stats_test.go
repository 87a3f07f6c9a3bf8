package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestStatsNetAndBlockIO(t *testing.T) {
	root := newAccountedRoot(t)
	const written = 20 << 20
	// Direct I/O reaches the disk from the container's process, so its
	// cgroup is charged on v1 too, where buffered writes are written back
	// by a kernel thread and charged to the root cgroup.
	runDetached(t, root, "--name", "io", "--network", "none", "busybox", "sh", "-c",
		"dd if=/dev/zero of=/f bs=1M count=20 oflag=direct && echo written; exec sleep 1000")
	runDetached(t, root, "--name", "hostnet", "--network", "host", "busybox", "sleep", "1000")
	// On the default bridge: three pings to the gateway and their answers.
	runDetached(t, root, "--name", "bridged", "busybox", "sh", "-c",
		"ping -c 3 -i 0.2 $(ip route | awk '/^default/ {print $3}') && echo pinged; exec sleep 1000")
	eventually(t, 30*time.Second, "pinged the gateway", func() bool {
		out, _ := mustKiln(t, root, "logs", "bridged")
		return strings.Contains(out, "pinged")
	})
	eventually(t, 30*time.Second, "dd wrote 20MB", func() bool {
		out, _ := mustKiln(t, root, "logs", "io")
		return strings.Contains(out, "written")
	})

	out, _ := mustKiln(t, root, "stats", "--no-stream")
	rows := statsTable(t, out)
	ioRow, host, bridged := rows["io"], rows["hostnet"], rows["bridged"]
	if ioRow == nil || host == nil || bridged == nil {
		t.Fatalf("stats --no-stream: no row for io, hostnet or bridged in\n%s", out)
	}
	rx, tx, _ := strings.Cut(bridged["NET I/O"], " / ")
	// Three 84-byte ICMP packets each way, at least, on eth0.
	if parseDecimalSize(t, rx) < 3*84 || parseDecimalSize(t, tx) < 3*84 {
		t.Errorf("NET I/O of a bridged container that pinged 3 times: got %q, want at least 252B each way", bridged["NET I/O"])
	}
	if got := ioRow["NET I/O"]; got != "0B / 0B" {
		t.Errorf("NET I/O of a --network none container: got %q, want 0B / 0B (lo is not counted)", got)
	}
	if got := host["NET I/O"]; got != "--" {
		t.Errorf("NET I/O of a --network host container: got %q, want -- (the host's traffic is not its own)", got)
	}
	read, write, ok := strings.Cut(ioRow["BLOCK I/O"], " / ")
	if !ok {
		t.Fatalf("BLOCK I/O: got %q, want READ / WRITE", ioRow["BLOCK I/O"])
	}
	// The column has 3 significant digits: 20MiB shows as 21MB.
	if n := parseDecimalSize(t, write); n < written*0.995 {
		t.Errorf("BLOCK I/O: got %q written, want at least the %d bytes dd wrote", ioRow["BLOCK I/O"], written)
	}
	parseDecimalSize(t, read)
}

// statsTable splits kiln stats output into rows by name, each a map from
// column title to value. tabwriter pads columns with at least 3 spaces,
// and no title or value holds more than one in a row.
func statsTable(t *testing.T, out string) map[string]map[string]string {
	t.Helper()
	sep := regexp.MustCompile(` {3,}`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	cols := sep.Split(strings.TrimSpace(lines[0]), -1)
	want := "CONTAINER ID|NAME|CPU %|MEM USAGE / LIMIT|MEM %|NET I/O|BLOCK I/O|PIDS"
	if got := strings.Join(cols, "|"); got != want {
		t.Fatalf("stats header: got %q, want %q (Docker's columns)", got, want)
	}
	rows := map[string]map[string]string{}
	for _, l := range lines[1:] {
		vals := sep.Split(strings.TrimSpace(l), -1)
		if len(vals) != len(cols) {
			t.Fatalf("stats row %q: got %d columns, want %d", l, len(vals), len(cols))
		}
		row := map[string]string{}
		for i, c := range cols {
			row[c] = vals[i]
		}
		rows[row["NAME"]] = row
	}
	return rows
}

// parseDecimalSize reads back a size as stats shows NET and BLOCK I/O.
func parseDecimalSize(t *testing.T, s string) float64 {
	t.Helper()
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	mult := map[string]float64{"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}[s[max(i, 0):]]
	n, err := strconv.ParseFloat(s[:max(i, 0)], 64)
	if i <= 0 || mult == 0 || err != nil {
		t.Fatalf("size %q: want a number and B, kB, MB, GB or TB", s)
	}
	return n * mult
}

// newAccountedRoot is newContainerRoot on a file system of its own, on a
// loop device made for the test, where the kernel counts the block I/O of
// each cgroup. cgroup v2's io.stat always does. On v1 the throttle policy,
// whose counters are the ones that see every bio, counts only on devices
// where throttling is active, and recent kernels (6.18 for one) activate it
// on a device at the first throttle rule written for it: on a machine
// where nobody wrote one, a container's I/O to the system's disk is counted
// nowhere and stats shows 0B. The test writes a rule of no limit for its
// own device, which goes with the device at the end.
func newAccountedRoot(t *testing.T) string {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("mkfs.ext4 is missing (apt-get install e2fsprogs)")
	}
	blkio, v2 := blockCgroup(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 256<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	dev := newLoopDevice(t, img)
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(dev, mnt, "ext4", 0, ""); err != nil {
		t.Fatalf("mount %s: %v", dev, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	if !v2 {
		var st unix.Stat_t
		if err := unix.Stat(dev, &st); err != nil {
			t.Fatal(err)
		}
		rule := fmt.Sprintf("%d:%d 0", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		if err := os.WriteFile(filepath.Join(blkio, "blkio.throttle.write_bps_device"), []byte(rule), 0o644); err != nil {
			t.Skipf("cannot activate blkio throttling (and so its counters) for %s: %v", dev, err)
		}
	}
	root := filepath.Join(mnt, "root")
	buildBusybox(t, root)
	// Registered last, so run first: the containers go before the mount.
	t.Cleanup(func() {
		out, _, _ := kiln(t, root, "ps", "-aq", "--no-trunc")
		for _, id := range strings.Fields(out) {
			kiln(t, root, "rm", "-f", id)
		}
	})
	return root
}

// blockCgroup finds where kiln's cgroups count block I/O: cgroup v2's io
// controller (v2 true), or the v1 blkio hierarchy.
func blockCgroup(t *testing.T) (v1blkio string, v2 bool) {
	t.Helper()
	if cgroupV2(t) {
		b, _ := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
		if !slices.Contains(strings.Fields(string(b)), "io") {
			t.Skip("kiln uses cgroup v2 here, whose io controller is not available")
		}
		return "", true
	}
	dir := "/sys/fs/cgroup/blkio"
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || st.Type != unix.CGROUP_SUPER_MAGIC {
		t.Skip("no blkio cgroup controller at " + dir)
	}
	return dir, false
}

// newLoopDevice adds a loop device of its own rather than take a free one:
// removing it at the end takes whatever the test set on it along, the
// throttle rule included, and leaves the loop devices as they were.
func newLoopDevice(t *testing.T, img string) string {
	t.Helper()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no loop devices: %v", err)
	}
	t.Cleanup(func() { ctl.Close() })
	n := -1
	for i := 100; i < 200; i++ {
		if err := unix.IoctlSetInt(int(ctl.Fd()), unix.LOOP_CTL_ADD, i); err == nil {
			n = i
			break
		} else if !errors.Is(err, unix.EEXIST) {
			t.Skipf("add a loop device: %v", err)
		}
	}
	if n < 0 {
		t.Skip("no free loop device number in 100-199")
	}
	t.Cleanup(func() {
		// Detaching completes asynchronously: EBUSY for a moment.
		for i := 0; ; i++ {
			err := unix.IoctlSetInt(int(ctl.Fd()), unix.LOOP_CTL_REMOVE, n)
			if err == nil || !errors.Is(err, unix.EBUSY) || i == 100 {
				if err != nil {
					t.Errorf("remove loop device %d: %v", n, err)
				}
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	dev := fmt.Sprintf("/dev/loop%d", n)
	lf, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	imgf, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer imgf.Close()
	if err := unix.IoctlSetInt(int(lf.Fd()), unix.LOOP_SET_FD, int(imgf.Fd())); err != nil {
		lf.Close()
		t.Fatalf("attach %s to %s: %v", img, dev, err)
	}
	t.Cleanup(func() {
		if err := unix.IoctlSetInt(int(lf.Fd()), unix.LOOP_CLR_FD, 0); err != nil && !errors.Is(err, unix.ENXIO) {
			t.Errorf("detach %s: %v", dev, err)
		}
		lf.Close()
	})
	return dev
}
