package executor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunConfinement checks, from inside a container, what each Security
// leaves it: capabilities, seccomp mode, no_new_privs, masked paths.
func TestRunConfinement(t *testing.T) {
	base := busybox(t)
	script := `grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status | tr -s '\t' ' ' | tr '\n' ' '
wc -c < /proc/timer_list | tr -d ' \n'; echo -n ' '
ls -A /sys/firmware | wc -l | tr -d ' \n'; echo -n ' '
(echo x > /proc/sys/kernel/hostname) 2>/dev/null && echo -n rw || echo -n ro`
	for _, tc := range []struct {
		name string
		user string
		sec  Security
		want string
	}{
		{"default root", "", Security{},
			"CapInh: 0000000000000000 CapPrm: 00000000a80425fb CapEff: 00000000a80425fb CapBnd: 00000000a80425fb CapAmb: 0000000000000000 NoNewPrivs: 0 Seccomp: 2 0 0 ro"},
		{"default user", "alice", Security{},
			"CapInh: 0000000000000000 CapPrm: 0000000000000000 CapEff: 0000000000000000 CapBnd: 00000000a80425fb CapAmb: 0000000000000000 NoNewPrivs: 0 Seccomp: 2 0 0 ro"},
		{"drop all, add chown, nnp, unconfined", "", Security{CapDrop: []string{"ALL"}, CapAdd: []string{"CHOWN"}, NoNewPrivileges: true, SeccompUnconfined: true},
			"CapInh: 0000000000000000 CapPrm: 0000000000000001 CapEff: 0000000000000001 CapBnd: 0000000000000001 CapAmb: 0000000000000000 NoNewPrivs: 1 Seccomp: 0 0 0 ro"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.TrimSpace(mustRun(t, Spec{Rootfs: rootfs(t, base), User: tc.user, Security: tc.sec, Args: sh(script)}))
			if got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestRunSeccompDenies runs the syscalls the default profile refuses.
func TestRunSeccompDenies(t *testing.T) {
	base := busybox(t)
	for _, cmd := range []string{"unshare -U true", "unshare -m true", "mount -t tmpfs t /mnt", "nsenter -t 1 -m true"} {
		t.Run(cmd, func(t *testing.T) {
			_, err := run(t, Spec{Rootfs: rootfs(t, base), Args: sh("mkdir -p /mnt; " + cmd)})
			if err == nil {
				t.Errorf("%s: got success, want a refusal", cmd)
			}
		})
	}
}

// TestRunMknodBlockDevice makes a block device node for the host's first
// block device and reads it, under the devices cgroup where the host has
// one, and under the nodev mounts kiln falls back to without.
func TestRunMknodBlockDevice(t *testing.T) {
	base := busybox(t)
	ents, err := os.ReadDir("/sys/dev/block")
	if err != nil || len(ents) == 0 {
		t.Skip("no block device on this host")
	}
	maj, min, _ := strings.Cut(ents[0].Name(), ":")
	script := "mknod /blk b " + maj + " " + min + " && head -c 512 /blk | wc -c"
	for _, tc := range []struct {
		name, root string
	}{
		{"devices cgroup", cgroupV1Root},
		{"nodev", t.TempDir()}, // no devices hierarchy under it
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(tc.root, "devices", "devices.allow")); err != nil && tc.name == "devices cgroup" {
				t.Skip("no cgroup v1 devices controller here")
			}
			old := cgroupV1Root
			cgroupV1Root = tc.root
			defer func() { cgroupV1Root = old }()
			out, err := run(t, Spec{Rootfs: rootfs(t, base), Args: sh(script)})
			if err == nil && strings.TrimSpace(out) != "0" {
				t.Errorf("read a block device made with mknod: got %q bytes, want a refusal", strings.TrimSpace(out))
			}
			// The default devices still work.
			got := mustRun(t, Spec{Rootfs: rootfs(t, base), Args: sh("head -c 4 /dev/zero | wc -c; echo x > /dev/null && echo ok")})
			if strings.Fields(got)[0] != "4" || !strings.Contains(got, "ok") {
				t.Errorf("default devices: got %q, want 4 and ok", got)
			}
		})
	}
}
