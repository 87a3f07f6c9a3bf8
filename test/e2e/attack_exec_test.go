package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestAttackExec: a process started by kiln exec gets the container's
// confinement (capabilities, seccomp, no_new_privs, devices), not the
// helper's root; and the runtime's binary it could reach through
// #!/proc/self/exe is the sealed copy (CVE-2019-5736 was an exec attack:
// runc's exec entered a container whose processes were already running).
func TestAttackExec(t *testing.T) {
	root := newContainerRoot(t)
	c := newCanary(t)
	sum := fileHash(t, kilnBin)
	runDetached(t, root, "--name", "plain", "busybox", "sh", "-c", "printf '#!/proc/self/exe\\n' > /evil; chmod 755 /evil; exec sleep 1000")
	runDetached(t, root, "--name", "narrow", "--cap-drop", "ALL", "--cap-add", "SETGID", "--cap-add", "SETUID", "--security-opt", "no-new-privileges", "busybox", "sleep", "1000")
	eventually(t, 10*time.Second, "the container wrote /evil", func() bool {
		_, _, code := kiln(t, root, "exec", "plain", "test", "-x", "/evil")
		return code == 0
	})
	for _, tc := range []struct {
		name, ctr string
		args      []string
		field     string
		want      string
	}{
		{"default caps", "plain", nil, "CapEff", dockerCaps},
		{"default bounding set", "plain", nil, "CapBnd", dockerCaps},
		{"seccomp", "plain", nil, "Seccomp", "2"},
		{"non-root user", "plain", []string{"-u", "1000"}, "CapEff", "0000000000000000"},
		{"the container's caps", "narrow", nil, "CapBnd", "00000000000000c0"},
		{"the container's no_new_privs", "narrow", nil, "NoNewPrivs", "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"exec"}, tc.args...), tc.ctr, "cat", "/proc/self/status")
			stdout, _ := mustKiln(t, root, args...)
			if got := statusLine(stdout, tc.field); got != tc.want {
				t.Errorf("%s: got %q, want %q", tc.field, got, tc.want)
			}
		})
	}
	for _, a := range []string{"unshare -m true", "mount -t tmpfs none /mnt", "nsenter -t 1 -m true"} {
		if _, _, code := kiln(t, root, "exec", "plain", "sh", "-c", "mkdir -p /mnt; "+a); code == 0 {
			t.Errorf("exec %q: got exit status 0, want a refusal", a)
		}
	}
	if ents, err := os.ReadDir("/sys/dev/block"); err == nil && len(ents) > 0 {
		maj, min, _ := strings.Cut(ents[0].Name(), ":")
		out, _, _ := kiln(t, root, "exec", "plain", "sh", "-c", fmt.Sprintf("mknod /blk b %s %s; head -c 512 /blk | wc -c", maj, min))
		if strings.TrimSpace(out) != "0" {
			t.Errorf("exec: read a mknod'd block device: got %q bytes, want none", strings.TrimSpace(out))
		}
	}
	// CVE-2024-21626 through exec: the working directory names an fd.
	// /evil exists in the container only: ../../… from a cwd on the host
	// would not find it.
	for n := 3; n <= 20; n++ {
		for _, w := range []string{fmt.Sprintf("/proc/self/fd/%d", n), fmt.Sprintf("/proc/thread-self/fd/%d", n)} {
			out, _, _ := kiln(t, root, "exec", "-w", w, "plain", "sh", "-c", "test -e ../../../../../../../../../evil || echo ESC\"\"APED")
			if strings.Contains(out, "ESCAPED") {
				t.Errorf("exec -w %s: the process's cwd is outside the container", w)
			}
		}
	}
	// The runtime through #!/proc/self/exe, while the container runs.
	if _, _, code := kiln(t, root, "exec", "plain", "/evil"); code == 0 {
		t.Errorf("exec of a #!/proc/self/exe script: got exit status 0, want a failure")
	}
	if got := fileHash(t, kilnBin); got != sum {
		t.Fatalf("kiln binary on the host: got sha256 %s, want %s unchanged", got, sum)
	}
	mustKiln(t, root, "rm", "-f", "plain", "narrow")
	c.check(t)
}
