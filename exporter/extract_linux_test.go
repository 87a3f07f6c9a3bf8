package exporter

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/internal/tartest"
)

// escapeName is a file name the hostile tars try to create outside the
// root; tests check it appears nowhere it should not.
const escapeName = "kiln-exporter-escape"

type unsafeCase struct {
	name    string
	entries []tartest.Entry
	wantErr error             // nil: extraction succeeds
	inside  map[string]string // files that must exist in the root, with content
}

func unsafeCases() []unsafeCase {
	return []unsafeCase{
		{name: "dot dot", entries: []tartest.Entry{tartest.File("../"+escapeName, "x")}, wantErr: ErrUnsafePath},
		{name: "dot dot inside", entries: []tartest.Entry{tartest.File("a/../../"+escapeName, "x")}, wantErr: ErrUnsafePath},
		{name: "absolute", entries: []tartest.Entry{tartest.File("/tmp/"+escapeName, "x")}, wantErr: ErrUnsafePath},
		{
			name:    "symlink to root then write through it",
			entries: []tartest.Entry{tartest.Symlink("a", "/"), tartest.File("a/etc/"+escapeName, "x")},
			inside:  map[string]string{"etc/" + escapeName: "x"},
		},
		{
			name:    "symlink to parent then write through it",
			entries: []tartest.Entry{tartest.Symlink("a", ".."), tartest.File("a/"+escapeName, "x")},
			inside:  map[string]string{escapeName: "x"},
		},
		{
			name:    "symlink chain out",
			entries: []tartest.Entry{tartest.Symlink("a", "b/../../.."), tartest.Dir("b/"), tartest.File("a/tmp/"+escapeName, "x")},
			inside:  map[string]string{"tmp/" + escapeName: "x"},
		},
		{name: "hardlink out", entries: []tartest.Entry{tartest.Link(escapeName, "../../etc/passwd")}, wantErr: ErrUnsafePath},
		{name: "hardlink absolute", entries: []tartest.Entry{tartest.Link(escapeName, "/etc/passwd")}, wantErr: ErrUnsafePath},
		{
			name:    "hardlink through symlink",
			entries: []tartest.Entry{tartest.Symlink("a", "/etc"), tartest.Link(escapeName, "a/passwd")},
			wantErr: os.ErrNotExist, // resolves to <root>/etc/passwd, which does not exist
		},
		{
			name:    "file replaces symlink",
			entries: []tartest.Entry{tartest.Symlink(escapeName, "/tmp/"+escapeName), tartest.File(escapeName, "x")},
			inside:  map[string]string{escapeName: "x"},
		},
		{
			name:    "whiteout dot dot",
			entries: []tartest.Entry{tartest.File("a/.wh...", "")},
			wantErr: ErrUnsafePath,
		},
	}
}

// outside lists what is in parent besides the root, and whether the
// escape name exists in places a broken extractor would put it.
func outside(t testing.TB, parent string) []string {
	t.Helper()
	var found []string
	err := filepath.Walk(parent, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p == filepath.Join(parent, "root") {
			return filepath.SkipDir
		}
		if p != parent {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/" + escapeName, "/etc/" + escapeName, "/tmp/" + escapeName, filepath.Join(filepath.Dir(parent), escapeName)} {
		if _, err := os.Lstat(p); err == nil {
			found = append(found, p)
		}
	}
	sort.Strings(found)
	return found
}

func TestExtractLayerUnsafe(t *testing.T) {
	for _, tt := range unsafeCases() {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			root := filepath.Join(parent, "root")
			data := tartest.Build(t, tt.entries...)
			for _, compressed := range []bool{false, true} {
				if compressed {
					data = tartest.Gzip(t, data)
					root = filepath.Join(parent, "root")
					if err := os.RemoveAll(root); err != nil {
						t.Fatal(err)
					}
				}
				err := ExtractLayer(context.Background(), bytes.NewReader(data), root)
				if tt.wantErr == nil && err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("got error %v, want %v", err, tt.wantErr)
					}
					if last := tt.entries[len(tt.entries)-1].Header.Name; !strings.Contains(err.Error(), last) {
						t.Errorf("got error %q, want it to name %q", err, last)
					}
				}
				if got := outside(t, parent); len(got) > 0 {
					t.Errorf("got files outside the root: %v", got)
				}
				for name, want := range tt.inside {
					b, err := os.ReadFile(filepath.Join(root, name))
					if err != nil || string(b) != want {
						t.Errorf("%s: got %q (%v), want %q", name, b, err, want)
					}
				}
			}
		})
	}
}

func TestExtractLayerNotEmpty(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := ExtractLayer(context.Background(), bytes.NewReader(tartest.Build(t, tartest.File("y", "y"))), dir)
	if !errors.Is(err, ErrNotEmpty) {
		t.Errorf("got error %v, want %v", err, ErrNotEmpty)
	}
}

func TestExtractLayerDropsOverlayXattrs(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: trusted.* xattrs")
	}
	d := tartest.Dir("d/")
	d.Header.PAXRecords = map[string]string{"SCHILY.xattr.trusted.overlay.redirect": "/etc"}
	root := filepath.Join(t.TempDir(), "root")
	if err := ExtractLayer(context.Background(), bytes.NewReader(tartest.Build(t, d)), root); err != nil {
		t.Fatal(err)
	}
	v, err := getXattr(filepath.Join(root, "d"), "trusted.overlay.redirect")
	if err != nil || v != nil {
		t.Errorf("got trusted.overlay.redirect %q (%v), want none", v, err)
	}
}

func TestExtractLayerUnsupported(t *testing.T) {
	e := tartest.File("sparse", "")
	e.Header.Typeflag = tar.TypeGNUSparse
	e.Header.Format = tar.FormatGNU
	root := filepath.Join(t.TempDir(), "root")
	err := ExtractLayer(context.Background(), bytes.NewReader(tartest.Build(t, e)), root)
	if err == nil {
		t.Fatal("got no error, want one")
	}
}

func FuzzExtractLayer(f *testing.F) {
	for _, c := range unsafeCases() {
		data := tartest.Build(f, c.entries...)
		f.Add(data)
		f.Add(tartest.Gzip(f, data))
	}
	f.Add(tartest.Build(f,
		tartest.Dir("d/"), tartest.File("d/.wh..wh..opq", ""), tartest.File("d/f", "f"),
		tartest.File(".wh.gone", ""), tartest.Link("d/g", "d/f"), tartest.Symlink("s", "d/f")))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		_ = ExtractLayer(context.Background(), bytes.NewReader(data), filepath.Join(parent, "root"))
		if got := outside(t, parent); len(got) > 0 {
			t.Fatalf("got files outside the root: %v", got)
		}
	})
}
