package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// manifestOf returns the manifest digest tagged name in the store at root.
func manifestOf(t *testing.T, root, name string) string {
	t.Helper()
	var idx ocispec.Index
	b, err := os.ReadFile(filepath.Join(root, "oci", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	for _, d := range idx.Manifests {
		if d.Annotations[ocispec.AnnotationRefName] == name {
			return d.Digest.String()
		}
	}
	t.Fatalf("index.json: no manifest named %s", name)
	return ""
}

// With SOURCE_DATE_EPOCH, two builds of the same inputs in two empty stores
// give the same manifest digest, whether the epoch comes from the
// environment or --build-arg — even though COPY creates parent directories
// and RUN writes files at whatever the clock says. The config's times are
// the epoch.
func TestImageReproducibleAcrossStores(t *testing.T) {
	const epoch = "1700000000"
	app := newContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nCOPY a.txt /deep/new/dir/a.txt\nRUN mkdir -p /var/made && date > /dev/null && echo ran > /var/made/out\n",
		"a.txt":      "a\n",
	})
	scratch := newContext(t, map[string]string{
		"Dockerfile": "FROM scratch\nCOPY a.txt /some/parent/a.txt\n",
		"a.txt":      "a\n",
	})

	digests := map[string][]string{}
	for i, how := range []string{"env", "build-arg"} {
		root := newRoot(t)
		args := []string{"--build-arg", "SOURCE_DATE_EPOCH=" + epoch}
		if how == "env" {
			t.Setenv("SOURCE_DATE_EPOCH", epoch)
			args = nil
		}
		mustKiln(t, root, append(append([]string{"build", "-q", "-t", "busybox"}, args...), busyboxContext)...)
		if i == 0 {
			// Let the clock move on, so that an unclamped time would differ.
			time.Sleep(1100 * time.Millisecond)
		}
		mustKiln(t, root, append(append([]string{"build", "-q", "-t", "app"}, args...), app)...)
		mustKiln(t, root, append(append([]string{"build", "-q", "-t", "scratch"}, args...), scratch)...)
		for _, n := range []string{"busybox:latest", "app:latest", "scratch:latest"} {
			digests[n] = append(digests[n], manifestOf(t, root, n))
		}
		if how == "env" {
			os.Unsetenv("SOURCE_DATE_EPOCH")
		}

		out, _ := mustKiln(t, root, "inspect", "app")
		var img ocispec.Image
		if err := json.Unmarshal([]byte(out), &img); err != nil {
			t.Fatal(err)
		}
		want := time.Unix(1700000000, 0).UTC()
		if img.Created == nil || !img.Created.Equal(want) {
			t.Errorf("%s: config created: got %v, want %v", how, img.Created, want)
		}
		for _, h := range img.History {
			if h.Created == nil || !h.Created.Equal(want) {
				t.Errorf("%s: history %q created: got %v, want %v", how, h.CreatedBy, h.Created, want)
			}
		}
	}
	for n, ds := range digests {
		if ds[0] != ds[1] {
			t.Errorf("%s: got manifests %s and %s in two stores, want one digest", n, ds[0], ds[1])
		}
	}
}
