package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type volumeInfo struct {
	Name       string
	Driver     string
	Mountpoint string
	CreatedAt  string
}

func inspectVolume(t *testing.T, root, name string) volumeInfo {
	t.Helper()
	out, _ := mustKiln(t, root, "volume", "inspect", name)
	var vs []volumeInfo
	if err := json.Unmarshal([]byte(out), &vs); err != nil || len(vs) != 1 {
		t.Fatalf("kiln volume inspect %s: %v\n%s", name, err, out)
	}
	return vs[0]
}

func volumeNames(t *testing.T, root string) []string {
	t.Helper()
	out, _ := mustKiln(t, root, "volume", "ls", "-q")
	return strings.Fields(out)
}

// A named volume keeps its data across rm and a new container.
func TestVolumeOutlivesContainer(t *testing.T) {
	root := newContainerRoot(t)
	mustKiln(t, root, "run", "--name", "w", "-v", "data:/data", "busybox", "sh", "-c", "echo kept > /data/f")
	mustKiln(t, root, "rm", "w")
	out, _ := mustKiln(t, root, "run", "--rm", "--mount", "type=volume,source=data,target=/d", "busybox", "cat", "/d/f")
	if strings.TrimSpace(out) != "kept" {
		t.Fatalf("volume content after rm: got %q, want %q", out, "kept")
	}
	if got := volumeNames(t, root); len(got) != 1 || got[0] != "data" {
		t.Fatalf("volume ls -q: got %q, want [data]", got)
	}
}

// -v host:ctr binds a host directory: writes appear on the host, and :ro
// refuses them.
func TestVolumeBindHostDir(t *testing.T) {
	root := newContainerRoot(t)
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "in"), []byte("from host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := mustKiln(t, root, "run", "--rm", "-v", host+":/h", "busybox", "sh", "-c", "cat /h/in && echo from ctr > /h/out")
	if out != "from host\n" {
		t.Fatalf("cat /h/in: got %q", out)
	}
	b, err := os.ReadFile(filepath.Join(host, "out"))
	if err != nil || string(b) != "from ctr\n" {
		t.Fatalf("host file written through the bind: got %q, %v; want %q", b, err, "from ctr\n")
	}
	_, stderr, code := kiln(t, root, "run", "--rm", "-v", host+":/h:ro", "busybox", "sh", "-c", "echo x > /h/ro")
	if code == 0 {
		t.Fatalf("write through -v …:ro: exit 0, want a failure")
	}
	if !strings.Contains(stderr, "Read-only") {
		t.Errorf("write through -v …:ro: stderr %q, want a read-only error", stderr)
	}
	if _, err := os.Stat(filepath.Join(host, "ro")); err == nil {
		t.Errorf("write through -v …:ro reached the host")
	}

	// A file binds too, read-write or read-only.
	file := filepath.Join(host, "in")
	mustKiln(t, root, "run", "--rm", "-v", file+":/etc/in", "busybox", "sh", "-c", "echo more >> /etc/in")
	if _, _, code := kiln(t, root, "run", "--rm", "-v", file+":/etc/in:ro", "busybox", "sh", "-c", "echo x >> /etc/in"); code == 0 {
		t.Errorf("append to a file bound with :ro: exit 0, want a failure")
	}
	if b, _ := os.ReadFile(file); string(b) != "from host\nmore\n" {
		t.Errorf("host file after the file binds: got %q, want %q", b, "from host\nmore\n")
	}

	// -v creates a missing host directory; --mount refuses one.
	missing := filepath.Join(t.TempDir(), "new", "dir")
	mustKiln(t, root, "run", "--rm", "-v", missing+":/m", "busybox", "true")
	if fi, err := os.Stat(missing); err != nil || !fi.IsDir() {
		t.Fatalf("-v with a missing host dir: %v, want it created", err)
	}
	gone := filepath.Join(t.TempDir(), "absent")
	_, stderr, code = kiln(t, root, "run", "--rm", "--mount", "type=bind,source="+gone+",target=/m", "busybox", "true")
	if code != 125 || !strings.Contains(stderr, "--mount") || !strings.Contains(stderr, "does not exist") {
		t.Fatalf("--mount with a missing bind source: exit %d, stderr %q; want 125 naming --mount", code, stderr)
	}
}

// A bind stays in the container's config: start runs with it again.
func TestVolumeBindKeptOnStart(t *testing.T) {
	root := newContainerRoot(t)
	host := t.TempDir()
	mustKiln(t, root, "create", "--name", "c", "-v", host+":/h", "busybox", "sh", "-c", "echo x >> /h/log")
	mustKiln(t, root, "start", "-a", "c")
	mustKiln(t, root, "start", "-a", "c")
	b, _ := os.ReadFile(filepath.Join(host, "log"))
	if string(b) != "x\nx\n" {
		t.Fatalf("host log after two starts: got %q, want %q", b, "x\nx\n")
	}
}

// An empty volume is filled from the image's content at its target, with
// owners and modes, on first use only.
func TestVolumePrePopulated(t *testing.T) {
	root := newContainerRoot(t)
	ctx := newContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN mkdir -p /srv/app/sub && echo seed > /srv/app/sub/f && chown -R 1000:50 /srv/app && chmod 0750 /srv/app\n",
	})
	build(t, root, ctx, "-t", "seeded")
	out, _ := mustKiln(t, root, "run", "--rm", "-v", "pre:/srv/app", "seeded", "sh", "-c",
		"cat /srv/app/sub/f; stat -c '%u:%g %a' /srv/app /srv/app/sub/f; echo changed > /srv/app/sub/f")
	want := "seed\n1000:50 750\n1000:50 644\n"
	if out != want {
		t.Fatalf("pre-populated volume: got %q, want %q", out, want)
	}
	// Not empty any more: the image does not overwrite it.
	out, _ = mustKiln(t, root, "run", "--rm", "-v", "pre:/srv/app", "seeded", "cat", "/srv/app/sub/f")
	if out != "changed\n" {
		t.Fatalf("second use: got %q, want %q", out, "changed\n")
	}
	mp := inspectVolume(t, root, "pre").Mountpoint
	if b, err := os.ReadFile(filepath.Join(mp, "sub", "f")); err != nil || string(b) != "changed\n" {
		t.Fatalf("volume content on the host: %q, %v", b, err)
	}
}

// volume create, ls, inspect and rm, which refuses a volume in use.
func TestVolumeCommands(t *testing.T) {
	root := newContainerRoot(t)
	out, _ := mustKiln(t, root, "volume", "create", "v1")
	if strings.TrimSpace(out) != "v1" {
		t.Fatalf("volume create v1: got %q", out)
	}
	out, _ = mustKiln(t, root, "volume", "create")
	anon := strings.TrimSpace(out)
	if len(anon) != 64 {
		t.Fatalf("volume create: got %q, want a random 64-digit name", out)
	}
	v := inspectVolume(t, root, "v1")
	if v.Name != "v1" || v.Driver != "local" || v.CreatedAt == "" || filepath.Base(v.Mountpoint) != "_data" {
		t.Fatalf("volume inspect v1: got %+v", v)
	}
	if fi, err := os.Stat(v.Mountpoint); err != nil || !fi.IsDir() {
		t.Fatalf("mountpoint %s: %v", v.Mountpoint, err)
	}
	out, _ = mustKiln(t, root, "volume", "ls")
	if !strings.Contains(out, "DRIVER") || !strings.Contains(out, "local") || !strings.Contains(out, "v1") {
		t.Fatalf("volume ls: got %q", out)
	}
	for _, bad := range []string{"a", "-x", "a/b", "a b"} {
		if _, stderr, code := kiln(t, root, "volume", "create", "--", bad); code == 0 || !strings.Contains(stderr, "invalid volume name") {
			t.Errorf("volume create %q: exit %d, stderr %q; want invalid volume name", bad, code, stderr)
		}
	}

	mustKiln(t, root, "create", "--name", "user", "-v", "v1:/v", "busybox", "true")
	out, _ = mustKiln(t, root, "inspect", "user")
	var ctr struct {
		Mounts []struct {
			Type, Name, Source, Destination string
			RW                              bool
		}
	}
	if err := json.Unmarshal([]byte(out), &ctr); err != nil || len(ctr.Mounts) != 1 {
		t.Fatalf("inspect user: %v, mounts %+v", err, ctr.Mounts)
	}
	if m := ctr.Mounts[0]; m.Type != "volume" || m.Name != "v1" || m.Source != v.Mountpoint || m.Destination != "/v" || !m.RW {
		t.Fatalf("inspect user: mount %+v", m)
	}
	_, stderr, code := kiln(t, root, "volume", "rm", "v1")
	if code == 0 || !strings.Contains(stderr, "in use") || !strings.Contains(stderr, "user") {
		t.Fatalf("volume rm of a volume in use: exit %d, stderr %q; want a failure naming the container", code, stderr)
	}
	// As Docker's since moby#31450: -f ignores a missing volume, not a user.
	if _, stderr, code := kiln(t, root, "volume", "rm", "-f", "v1"); code == 0 || !strings.Contains(stderr, "in use") {
		t.Fatalf("volume rm -f of a volume in use: exit %d, stderr %q; want refused", code, stderr)
	}
	mustKiln(t, root, "volume", "rm", anon)
	mustKiln(t, root, "rm", "user")
	mustKiln(t, root, "volume", "rm", "-f", "v1", "never-made")
	if got := volumeNames(t, root); len(got) != 0 {
		t.Fatalf("volume ls -q after rm: got %q", got)
	}
	if _, stderr, code := kiln(t, root, "volume", "inspect", "v1"); code == 0 || !strings.Contains(stderr, "no such volume") {
		t.Fatalf("volume inspect of a removed volume: exit %d, stderr %q", code, stderr)
	}
}

// An image's VOLUME gets an anonymous volume, filled from the image and
// removed by rm -v (and --rm); named volumes are kept.
func TestVolumeAnonymous(t *testing.T) {
	root := newContainerRoot(t)
	ctx := newContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN mkdir /vol && echo img > /vol/f\nVOLUME /vol\n",
	})
	build(t, root, ctx, "-t", "withvol")
	out, _ := mustKiln(t, root, "run", "--name", "a", "withvol", "sh", "-c", "cat /vol/f; echo new > /vol/g")
	if out != "img\n" {
		t.Fatalf("anonymous volume content: got %q, want %q", out, "img\n")
	}
	names := volumeNames(t, root)
	if len(names) != 1 || len(names[0]) != 64 {
		t.Fatalf("volume ls -q: got %q, want one anonymous volume", names)
	}
	mp := inspectVolume(t, root, names[0]).Mountpoint
	if b, err := os.ReadFile(filepath.Join(mp, "g")); err != nil || string(b) != "new\n" {
		t.Fatalf("write to /vol is not in the volume: %q, %v", b, err)
	}
	mustKiln(t, root, "rm", "-v", "a")
	if got := volumeNames(t, root); len(got) != 0 {
		t.Fatalf("volume ls -q after rm -v: got %q, want none", got)
	}

	mustKiln(t, root, "run", "--rm", "-v", "named:/keep", "withvol", "true")
	if got := volumeNames(t, root); len(got) != 1 || got[0] != "named" {
		t.Fatalf("volume ls -q after run --rm: got %q, want only [named]", got)
	}
	// A -v on the VOLUME's path replaces the anonymous volume.
	host := t.TempDir()
	out, _ = mustKiln(t, root, "run", "--rm", "-v", host+":/vol", "withvol", "ls", "/vol")
	if out != "" {
		t.Fatalf("ls /vol with a bind over the VOLUME: got %q, want empty", out)
	}
	if got := volumeNames(t, root); len(got) != 1 {
		t.Fatalf("volume ls -q: got %q, want only [named]", got)
	}
}

func TestVolumeTmpfs(t *testing.T) {
	root := newContainerRoot(t)
	for _, flag := range [][]string{
		{"--tmpfs", "/scratch:size=1m"},
		{"--mount", "type=tmpfs,target=/scratch,tmpfs-size=1048576"},
	} {
		args := append(append([]string{"run", "--rm"}, flag...), "busybox", "sh", "-c",
			"grep ' /scratch ' /proc/mounts; echo hi > /scratch/f && cat /scratch/f")
		out, _ := mustKiln(t, root, args...)
		if !strings.Contains(out, "tmpfs /scratch tmpfs") || !strings.Contains(out, "size=1024k") || !strings.HasSuffix(out, "hi\n") {
			t.Errorf("%s: got %q, want a 1m tmpfs on /scratch", strings.Join(flag, " "), out)
		}
	}
	// A tmpfs starts empty at every start.
	mustKiln(t, root, "create", "--name", "t", "--tmpfs", "/scratch", "busybox", "sh", "-c", "ls /scratch; touch /scratch/x")
	for i := 0; i < 2; i++ {
		if out, _ := mustKiln(t, root, "start", "-a", "t"); out != "" {
			t.Fatalf("start %d: ls /scratch: got %q, want empty", i+1, out)
		}
	}
}

// Writes to a container's own layer vanish with it.
func TestVolumeOwnLayerVanishes(t *testing.T) {
	root := newContainerRoot(t)
	mustKiln(t, root, "run", "--name", "w", "busybox", "sh", "-c", "echo x > /own")
	mustKiln(t, root, "start", "-a", "w")
	mustKiln(t, root, "rm", "w")
	if _, _, code := kiln(t, root, "run", "--rm", "busybox", "test", "-e", "/own"); code != 1 {
		t.Fatalf("test -e /own in a new container: exit %d, want 1", code)
	}
}

func TestVolumeFlagErrors(t *testing.T) {
	root := newContainerRoot(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-v", "rel/dir:/x"}, "-v rel/dir:/x"},
		{[]string{"-v", "/h:ctr"}, "not an absolute path"},
		{[]string{"-v", "/h:/x:rx"}, `unknown option "rx"`},
		{[]string{"--mount", "type=nfs,target=/x"}, "--mount type=nfs"},
		{[]string{"--mount", "type=bind,target=/x"}, "source is required"},
		{[]string{"--mount", "type=volume,source=v,dst=/x,bogus=1"}, `unknown key "bogus"`},
		{[]string{"--tmpfs", "/x:size=lots"}, "--tmpfs /x:size=lots"},
		{[]string{"-v", "a1:/x", "--tmpfs", "/x"}, "duplicate mount point"},
	} {
		args := append(append([]string{"run", "--rm"}, c.args...), "busybox", "true")
		_, stderr, code := kiln(t, root, args...)
		if code != 125 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want 125 and %q", strings.Join(c.args, " "), code, stderr, c.want)
		}
	}
	if got := volumeNames(t, root); len(got) != 0 {
		t.Errorf("failed runs left volumes: %q", got)
	}
}
