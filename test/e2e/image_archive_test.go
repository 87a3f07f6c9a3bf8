package e2e

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/internal/testutil"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// needTool skips the test when an interoperability tool is missing.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (apt-get install %s, or make deps)", name, pkg)
	}
	return p
}

// startDockerd starts a Docker engine of t's own, stopped when t ends, to
// compare kiln with; it skips t only when dockerd is not installed.
func startDockerd(t *testing.T) *testutil.Dockerd {
	t.Helper()
	d, err := testutil.StartDockerd("")
	if errors.Is(err, testutil.ErrNoDockerd) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Stop(); err != nil {
			t.Errorf("stop the private dockerd: %v", err)
		}
	})
	t.Logf("private dockerd at %s, storage driver %s", d.Host, d.Driver)
	return d
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// appContext is a small image over busybox whose output tells whether the
// layers arrived whole: a file, a deletion (a whiteout) and a symlink.
func appContext(t *testing.T) string {
	return newContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nCOPY msg.txt /msg.txt\nRUN echo gone > /gone && ln -s /msg.txt /link\nRUN rm /gone\nCMD [\"cat\", \"/link\"]\n",
		"msg.txt":    "hello from the archive\n",
	})
}

// save → load into an empty store → run, for both archive formats, and the
// image ID survives the trip.
func TestImageSaveLoadRun(t *testing.T) {
	root := newBusyboxRoot(t)
	_, id := build(t, root, appContext(t), "-t", "app:v1")
	want, _ := mustKiln(t, root, "run", "--rm", "app:v1")
	if want != "hello from the archive\n" {
		t.Fatalf("kiln run app:v1: got %q, want the message", want)
	}
	for _, format := range []string{"docker", "oci"} {
		t.Run(format, func(t *testing.T) {
			archive := filepath.Join(t.TempDir(), "app.tar")
			mustKiln(t, root, "save", "--format", format, "-o", archive, "app:v1")
			fresh := newRoot(t)
			out, _ := mustKiln(t, fresh, "load", "-i", archive)
			if !strings.Contains(out, "Loaded image: app:v1") {
				t.Errorf("kiln load: got %q, want Loaded image: app:v1", out)
			}
			got, _ := mustKiln(t, fresh, "run", "--rm", "app:v1")
			if got != want {
				t.Errorf("kiln run of the loaded image: got %q, want %q", got, want)
			}
			ids, _ := mustKiln(t, fresh, "images", "-q")
			if strings.TrimSpace(ids) != strings.TrimPrefix(id, "sha256:")[:12] {
				t.Errorf("kiln images -q after load: got %q, want the built image ID %s", ids, id)
			}
		})
	}

	t.Run("oci-layout-dir", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "layout")
		mustKiln(t, root, "build", "-q", "-o", "type=oci,dest="+dir+",tar=false", "-t", "app:v1", appContext(t))
		fresh := newRoot(t)
		mustKiln(t, fresh, "load", "-i", dir)
		if got, _ := mustKiln(t, fresh, "run", "--rm", "app:v1"); got != want {
			t.Errorf("kiln run after loading a layout dir: got %q, want %q", got, want)
		}
	})
}

// kiln import makes a one-layer image of a rootfs tarball (here the -o
// type=tar of a build), from a file or stdin, named or dangling; images
// lists dangling images as <none>; history shows the import.
func TestImageImportHistoryDangling(t *testing.T) {
	root := newBusyboxRoot(t)
	rootfs := filepath.Join(t.TempDir(), "rootfs.tar")
	mustKiln(t, root, "build", "-q", "-o", "type=tar,dest="+rootfs, appContext(t))

	fresh := newRoot(t)
	mustKiln(t, fresh, "import", rootfs, "imported:1")
	if got, _ := mustKiln(t, fresh, "run", "--rm", "imported:1", "cat", "/link"); got != "hello from the archive\n" {
		t.Errorf("kiln run imported:1: got %q, want the message", got)
	}
	if _, _, code := kiln(t, fresh, "run", "--rm", "imported:1", "test", "-e", "/gone"); code == 0 {
		t.Errorf("kiln run imported:1 test -e /gone: got exit 0, want the deleted file absent")
	}
	hist, _ := mustKiln(t, fresh, "history", "imported:1")
	if !strings.Contains(hist, "Imported from "+rootfs) {
		t.Errorf("kiln history imported:1: got\n%s\nwant the import comment", hist)
	}

	f, err := os.Open(rootfs)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stdout, stderr, code := kilnStdin(t, fresh, f, "import", "-m", "from stdin", "-")
	if code != 0 {
		t.Fatalf("kiln import -: exit %d: %s", code, stderr)
	}
	id := strings.TrimSpace(stdout)
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("kiln import -: got %q, want an image ID", stdout)
	}
	images, _ := mustKiln(t, fresh, "images")
	var none bool
	for _, line := range strings.Split(images, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "<none>" && f[1] == "<none>" && strings.HasPrefix(id, "sha256:"+f[2]) {
			none = true
		}
	}
	if !none {
		t.Errorf("kiln images: got\n%s\nwant a <none> <none> line for %s", images, id)
	}
	hist, _ = mustKiln(t, fresh, "history", id)
	if !strings.Contains(hist, "from stdin") {
		t.Errorf("kiln history %s: got\n%s\nwant the -m comment", id, hist)
	}
}

// Every OCI output is read by skopeo and unpacked by umoci; skopeo copies
// the docker-archive to an OCI dir; a private Docker engine loads and runs
// the docker-archive.
func TestImageOutputsInterop(t *testing.T) {
	root := newBusyboxRoot(t)
	needTool(t, "skopeo", "skopeo")
	needTool(t, "umoci", "umoci")
	out := t.TempDir()
	ctx := appContext(t)
	mustKiln(t, root, "build", "-q", "-t", "app:v1",
		"-o", "type=oci,dest="+filepath.Join(out, "gzip.tar"),
		"-o", "type=oci,dest="+filepath.Join(out, "plain.tar")+",compression=uncompressed",
		"-o", "type=oci,dest="+filepath.Join(out, "best.tar")+",compression=gzip,compression-level=9",
		"-o", "type=oci,dest="+filepath.Join(out, "zstd.tar")+",compression=zstd",
		"-o", "type=oci,dest="+filepath.Join(out, "dir")+",tar=false",
		"-o", "type=docker,dest="+filepath.Join(out, "docker.tar")+",name=app:docker",
		"-o", "type=local,dest="+filepath.Join(out, "local"),
		ctx)

	for _, c := range []struct {
		name, mediaType string
		umoci           bool
	}{
		{"gzip.tar", ocispec.MediaTypeImageLayerGzip, true},
		{"plain.tar", ocispec.MediaTypeImageLayer, true},
		{"best.tar", ocispec.MediaTypeImageLayerGzip, true},
		// Debian 12's umoci 0.4.7 predates zstd layers.
		{"zstd.tar", ocispec.MediaTypeImageLayerZstd, false},
		{"dir", ocispec.MediaTypeImageLayerGzip, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(out, c.name)
			transport := "oci-archive:"
			layout := p
			if c.name == "dir" {
				transport = "oci:"
			} else {
				layout = filepath.Join(t.TempDir(), "layout")
				untar(t, p, layout)
			}
			raw := runTool(t, "skopeo", "inspect", "--raw", transport+p+":v1")
			var m ocispec.Manifest
			if err := json.Unmarshal([]byte(raw), &m); err != nil {
				t.Fatalf("skopeo inspect --raw: %v\n%s", err, raw)
			}
			for _, l := range m.Layers {
				if l.MediaType != c.mediaType {
					t.Errorf("layer %s: got media type %s, want %s", l.Digest, l.MediaType, c.mediaType)
				}
			}
			if !c.umoci {
				return
			}
			bundle := filepath.Join(t.TempDir(), "bundle")
			runTool(t, "umoci", "unpack", "--rootless", "--image", layout+":v1", bundle)
			b, err := os.ReadFile(filepath.Join(bundle, "rootfs", "msg.txt"))
			if err != nil || string(b) != "hello from the archive\n" {
				t.Errorf("umoci unpack: msg.txt: got %q, %v, want the message", b, err)
			}
			if _, err := os.Lstat(filepath.Join(bundle, "rootfs", "gone")); err == nil {
				t.Errorf("umoci unpack: /gone exists, want it whited out")
			}
		})
	}

	t.Run("local", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(out, "local", "msg.txt"))
		if err != nil || string(b) != "hello from the archive\n" {
			t.Errorf("type=local: msg.txt: got %q, %v, want the message", b, err)
		}
		if _, err := os.Lstat(filepath.Join(out, "local", "gone")); err == nil {
			t.Errorf("type=local: /gone exists, want the whiteout applied")
		}
		if target, err := os.Readlink(filepath.Join(out, "local", "bin", "sh")); err != nil || target != "/bin/busybox" {
			t.Errorf("type=local: bin/sh: got %q, %v, want a link to /bin/busybox", target, err)
		}
	})

	t.Run("skopeo-copy-docker-archive", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "copy")
		runTool(t, "skopeo", "copy", "docker-archive:"+filepath.Join(out, "docker.tar"), "oci:"+dst+":copied")
		raw := runTool(t, "skopeo", "inspect", "--config", "--raw", "oci:"+dst+":copied")
		if !strings.Contains(raw, `"cat","/link"`) {
			t.Errorf("skopeo inspect --config of the copy: got %s, want the image's CMD", raw)
		}
	})

	t.Run("docker-load", func(t *testing.T) {
		d := startDockerd(t)
		if _, err := d.Run("load", "-i", filepath.Join(out, "docker.tar")); err != nil {
			t.Fatal(err)
		}
		// The private engine has no bridge to put a container on.
		got, err := d.Run("run", "--rm", "--network", "none", "app:docker")
		if err != nil {
			t.Fatal(err)
		}
		want, _ := mustKiln(t, root, "run", "--rm", "app:v1")
		if string(got) != want {
			t.Errorf("docker run: got %q, want kiln run's %q", got, want)
		}
	})
}

// untar extracts a tar of plain files and directories (an OCI archive).
func untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", archive, err)
		}
		p := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			t.Fatalf("%s: entry %q escapes", archive, hdr.Name)
		}
		if hdr.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		w, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, tr); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
}
