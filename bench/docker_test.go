package bench

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/kiln-build/kiln/internal/testutil"
)

// dockerStart starts a private Docker engine for b (stopped when b ends),
// loads into it the docker archive that kiln saves of image from the store
// at root, and returns a func that runs
// `docker run --rm --network none IMAGE true` once, failing the benchmark
// it is given (a sub-benchmark's own b, since only the goroutine running a
// benchmark may stop it). When dockerd is not installed it returns why
// instead; any other failure fails b.
func dockerStart(b *testing.B, root, image string) (run func(*testing.B), why string) {
	b.Helper()
	d, err := testutil.StartDockerd("")
	if errors.Is(err, testutil.ErrNoDockerd) {
		return nil, err.Error() + ": no Docker engine to compare with"
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := d.Stop(); err != nil {
			b.Errorf("stop the private dockerd: %v", err)
		}
	})
	archive := filepath.Join(b.TempDir(), "image.tar")
	kiln(b, root, "save", "-o", archive, image)
	if _, err := d.Run("load", "-i", archive); err != nil {
		b.Fatal(err)
	}
	return func(b *testing.B) {
		// The private engine has no bridge, so its containers get an
		// empty network namespace: compare with kiln run --network none,
		// not with kiln's default bridge and its veth.
		if _, err := d.Run("run", "--rm", "--network", "none", image, "true"); err != nil {
			b.Fatal(err)
		}
	}, ""
}
