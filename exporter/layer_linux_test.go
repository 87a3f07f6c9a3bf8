package exporter

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/pgzip"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root: mknod, chown and trusted.* xattrs")
	}
}

// v2 security.capability value granting cap_net_bind_service, effective.
var capNetBind = []byte{0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

var (
	longDir  = strings.Repeat("d", 60)
	longFile = strings.Repeat("f", 80)    // longDir/longFile > 100: USTAR prefix split
	longBase = strings.Repeat("n", 150)   // one component > 100: needs PAX
	mtime    = time.Unix(1700000000, 0)   // whole seconds survive the round trip
	subsec   = time.Unix(1700000001, 5e8) // truncated to 1700000001
	bigID    = 3000000                    // > 07777777: needs PAX
)

// buildTree makes an overlay upper directory. With full, it holds every
// kind of entry (needs root); otherwise only what any user can create.
func buildTree(t *testing.T, dir string, full bool) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	file := func(name, body string, perm uint32) {
		t.Helper()
		p := filepath.Join(dir, name)
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.WriteFile(p, []byte(body), 0o600))
		must(unix.Chmod(p, perm))
	}
	mkdir := func(name string, perm uint32) {
		t.Helper()
		p := filepath.Join(dir, name)
		must(os.MkdirAll(p, 0o755))
		must(unix.Chmod(p, perm))
	}
	file("bin/sh", "#!shell", 0o755)
	must(os.Link(filepath.Join(dir, "bin/sh"), filepath.Join(dir, "bin/ash")))
	file("etc/hostname", "kiln\n", 0o644)
	file("etc/private", "secret", 0o600)
	file(filepath.Join("long", longDir, longFile), "long", 0o644)
	file(longBase, "longer", 0o644)
	mkdir("empty", 0o755)
	mkdir("tmp", 0o1777)
	must(os.Symlink("usr/lib", filepath.Join(dir, "lib")))
	must(os.Symlink("/etc/passwd", filepath.Join(dir, "abs")))
	file("sub", "subsecond", 0o644)
	must(unix.UtimesNano(filepath.Join(dir, "sub"), []unix.Timespec{unix.NsecToTimespec(subsec.UnixNano()), unix.NsecToTimespec(subsec.UnixNano())}))
	if full {
		file("bin/su", "setuid", 0o4755)
		file("bin/wall", "setgid", 0o2755)
		file("bin/ping", "ping", 0o755)
		must(unix.Setxattr(filepath.Join(dir, "bin/ping"), xattrCapability, capNetBind, 0))
		file("home/user/notes", "mine", 0o640)
		must(os.Lchown(filepath.Join(dir, "home/user/notes"), 1000, 1000))
		must(os.Lchown(filepath.Join(dir, "home/user"), 1000, 1000))
		file("big", "big ids", 0o644)
		must(os.Lchown(filepath.Join(dir, "big"), bigID, bigID))
		mkdir("dev", 0o755)
		must(unix.Mknod(filepath.Join(dir, "dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
		must(unix.Mknod(filepath.Join(dir, "dev/loop0"), unix.S_IFBLK|0o660, int(unix.Mkdev(7, 0))))
		mkdir("run", 0o755)
		must(unix.Mknod(filepath.Join(dir, "run/fifo"), unix.S_IFIFO|0o644, 0))
		// Whiteouts: a deleted file and a deleted directory.
		must(unix.Mknod(filepath.Join(dir, "gone"), unix.S_IFCHR, 0))
		must(unix.Mknod(filepath.Join(dir, "etc/gone.d"), unix.S_IFCHR, 0))
		// An opaque directory: replaced wholesale in this layer.
		file("opaque/new", "new", 0o644)
		must(unix.Setxattr(filepath.Join(dir, "opaque"), xattrOpaque, []byte("y"), 0))
		mkdir("opaque/empty-opaque", 0o755)
		must(unix.Setxattr(filepath.Join(dir, "opaque/empty-opaque"), xattrOpaque, []byte("y"), 0))
		// Overlay bookkeeping that must not be exported.
		must(unix.Setxattr(filepath.Join(dir, "etc"), "trusted.overlay.origin", []byte("x"), 0))
	}
	// Fixed times, children before parents so directory times stick.
	var paths []string
	must(filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		paths = append(paths, p)
		return err
	}))
	sort.Sort(sort.Reverse(sort.StringSlice(paths)))
	ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	for _, p := range paths {
		if strings.HasSuffix(p, "/sub") {
			continue
		}
		must(unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW))
	}
}

// addSocket adds a unix socket, which WriteLayer must skip.
func addSocket(t *testing.T, dir string) {
	t.Helper()
	l, err := net.Listen("unix", filepath.Join(dir, "sock"))
	if err != nil {
		t.Skipf("cannot create a unix socket here: %v", err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNano(dir, ts); err != nil {
		t.Fatal(err)
	}
}

// snapshot describes every entry under dir (not dir itself) as a line of
// text: what must survive WriteLayer and ExtractLayer.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := make(map[string]string)
	inodes := make(map[uint64]string)
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "mode=%07o uid=%d gid=%d", st.Mode, st.Uid, st.Gid)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " sha256=%x", sha256.Sum256(data))
			if st.Nlink > 1 {
				if first, ok := inodes[st.Ino]; ok {
					fmt.Fprintf(&b, " linked-to=%s", first)
				} else {
					inodes[st.Ino] = rel
				}
			}
		case unix.S_IFLNK:
			target, _ := os.Readlink(p)
			fmt.Fprintf(&b, " -> %s", target)
		case unix.S_IFCHR, unix.S_IFBLK:
			fmt.Fprintf(&b, " dev=%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		fmt.Fprintf(&b, " mtime=%d", st.Mtim.Sec) // seconds: WriteLayer truncates
		for _, name := range []string{xattrOpaque, xattrCapability, "trusted.overlay.origin"} {
			v, err := getXattr(p, name)
			if err != nil {
				return err
			}
			if v != nil {
				fmt.Fprintf(&b, " %s=%q", name, v)
			}
		}
		out[rel] = b.String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func compareTrees(t *testing.T, got, want map[string]string) {
	t.Helper()
	for name, w := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("%s: missing, want %s", name, w)
		} else if g != w {
			t.Errorf("%s: got %s, want %s", name, g, w)
		}
	}
	for name, g := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: got %s, want nothing", name, g)
		}
	}
}

// tarEntries returns the headers of the gzip-compressed layer blob.
func tarEntries(t *testing.T, blob []byte) []*tar.Header {
	t.Helper()
	zr, err := pgzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var hdrs []*tar.Header
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return hdrs
		}
		if err != nil {
			t.Fatal(err)
		}
		hdrs = append(hdrs, hdr)
	}
}

func TestLayerRoundTrip(t *testing.T) {
	for _, full := range []bool{false, true} {
		t.Run(fmt.Sprintf("full=%v", full), func(t *testing.T) {
			if full {
				requireRoot(t)
			}
			ctx := context.Background()
			src := t.TempDir()
			buildTree(t, src, full)
			want := snapshot(t, src)
			addSocket(t, src)
			// Expected differences: sub-second mtimes are truncated and
			// overlay bookkeeping xattrs are dropped.
			if full {
				want["etc"] = strings.Replace(want["etc"], ` trusted.overlay.origin="x"`, "", 1)
			}

			bs := newMemStore()
			lb, err := WriteLayer(ctx, bs, src)
			if err != nil {
				t.Fatal(err)
			}
			if lb.Empty {
				t.Errorf("got Empty, want entries")
			}
			blob, err := bs.ReadBlob(lb.Blob.Digest)
			if err != nil {
				t.Fatal(err)
			}
			if lb.Blob.Size != int64(len(blob)) || lb.Blob.MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
				t.Errorf("got descriptor %+v, want size %d and gzip layer type", lb.Blob, len(blob))
			}
			dst := filepath.Join(t.TempDir(), "layer")
			if err := ExtractLayer(ctx, bytes.NewReader(blob), dst); err != nil {
				t.Fatal(err)
			}
			compareTrees(t, snapshot(t, dst), want)

			// DiffID is the digest of the uncompressed tar.
			zr, err := pgzip.NewReader(bytes.NewReader(blob))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			if got := digest.FromBytes(raw); got != lb.DiffID {
				t.Errorf("got DiffID %s, want digest of the tar %s", lb.DiffID, got)
			}
			// The uncompressed tar extracts the same.
			dst2 := filepath.Join(t.TempDir(), "layer")
			if err := ExtractLayer(ctx, bytes.NewReader(raw), dst2); err != nil {
				t.Fatal(err)
			}
			compareTrees(t, snapshot(t, dst2), want)
		})
	}
}

func TestWriteLayerHeaders(t *testing.T) {
	requireRoot(t)
	src := t.TempDir()
	buildTree(t, src, true)
	bs := newMemStore()
	lb, err := WriteLayer(context.Background(), bs, src)
	if err != nil {
		t.Fatal(err)
	}
	blob, _ := bs.ReadBlob(lb.Blob.Digest)
	hdrs := tarEntries(t, blob)

	var names []string
	byName := make(map[string]*tar.Header)
	for _, h := range hdrs {
		names = append(names, h.Name)
		byName[h.Name] = h
		if h.Uname != "" || h.Gname != "" || !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			t.Errorf("%s: got uname %q gname %q atime %v ctime %v, want none", h.Name, h.Uname, h.Gname, h.AccessTime, h.ChangeTime)
		}
		if strings.HasPrefix(h.Name, "/") || strings.HasPrefix(h.Name, "./") {
			t.Errorf("%s: got absolute or ./ name", h.Name)
		}
		if h.ModTime.Nanosecond() != 0 {
			t.Errorf("%s: got sub-second mtime %v", h.Name, h.ModTime)
		}
		for k := range h.PAXRecords {
			if strings.Contains(k, "overlay") || k == "atime" || k == "ctime" {
				t.Errorf("%s: got PAX record %s", h.Name, k)
			}
		}
	}
	// Parents first, then children sorted bytewise; the opaque marker
	// right after its directory.
	for i := 1; i < len(names); i++ {
		if strings.HasSuffix(names[i], whiteoutOpaque) {
			if want := strings.TrimSuffix(names[i], whiteoutOpaque); names[i-1] != want {
				t.Errorf("opaque marker %s follows %s, want %s", names[i], names[i-1], want)
			}
		}
	}
	wantOrder := []string{".wh.gone", "abs", "big", "bin/", "bin/ash", "bin/ping", "bin/sh", "bin/su", "bin/wall", "dev/", "dev/loop0", "dev/null", "empty/", "etc/"}
	if got := names[:len(wantOrder)]; strings.Join(got, " ") != strings.Join(wantOrder, " ") {
		t.Errorf("got order %v, want %v", got, wantOrder)
	}

	tests := []struct {
		name  string
		check func(h *tar.Header) bool
		want  string
	}{
		{".wh.gone", func(h *tar.Header) bool { return h.Typeflag == tar.TypeReg && h.Mode == 0 && h.Size == 0 }, "empty regular file, mode 0"},
		{"opaque/", func(h *tar.Header) bool { return h.Typeflag == tar.TypeDir }, "directory"},
		{"opaque/.wh..wh..opq", func(h *tar.Header) bool { return h.Typeflag == tar.TypeReg && h.Size == 0 }, "empty regular file"},
		{"bin/ash", func(h *tar.Header) bool { return h.Typeflag == tar.TypeReg && h.Size == 7 }, "regular file (first link in order)"},
		{"bin/sh", func(h *tar.Header) bool { return h.Typeflag == tar.TypeLink && h.Linkname == "bin/ash" }, "hard link to bin/ash"},
		{"etc/.wh.gone.d", func(h *tar.Header) bool { return h.Typeflag == tar.TypeReg && h.Mode == 0 }, "whiteout"},
		{"bin/su", func(h *tar.Header) bool { return h.Mode == 0o4755 && h.Format == tar.FormatUSTAR }, "mode 04755, USTAR"},
		{"tmp/", func(h *tar.Header) bool { return h.Mode == 0o1777 }, "mode 01777"},
		{"bin/ping", func(h *tar.Header) bool {
			return h.Format == tar.FormatPAX && h.PAXRecords["SCHILY.xattr.security.capability"] == string(capNetBind)
		}, "PAX with the capability"},
		{"big", func(h *tar.Header) bool { return h.Uid == bigID && h.Format == tar.FormatPAX }, "uid 3000000 in PAX"},
		{longBase, func(h *tar.Header) bool { return h.Format == tar.FormatPAX }, "PAX"},
		{"long/" + longDir + "/" + longFile, func(h *tar.Header) bool { return h.Format == tar.FormatUSTAR }, "USTAR (prefix split)"},
		{"abs", func(h *tar.Header) bool { return h.Typeflag == tar.TypeSymlink && h.Linkname == "/etc/passwd" }, "symlink to /etc/passwd"},
		{"dev/null", func(h *tar.Header) bool { return h.Typeflag == tar.TypeChar && h.Devmajor == 1 && h.Devminor == 3 }, "char 1:3"},
		{"dev/loop0", func(h *tar.Header) bool { return h.Typeflag == tar.TypeBlock && h.Devmajor == 7 }, "block 7:0"},
		{"run/fifo", func(h *tar.Header) bool { return h.Typeflag == tar.TypeFifo }, "fifo"},
		{"home/user/notes", func(h *tar.Header) bool { return h.Uid == 1000 && h.Gid == 1000 && h.Mode == 0o640 }, "1000:1000 0640"},
		{"sub", func(h *tar.Header) bool { return h.ModTime.Equal(time.Unix(subsec.Unix(), 0)) }, "mtime truncated to seconds"},
	}
	for _, tt := range tests {
		h, ok := byName[tt.name]
		if !ok {
			t.Errorf("%s: missing, want %s", tt.name, tt.want)
			continue
		}
		if !tt.check(h) {
			t.Errorf("%s: got %+v, want %s", tt.name, h, tt.want)
		}
	}
	for _, absent := range []string{"gone", "etc/gone.d", "sock"} {
		if _, ok := byName[absent]; ok {
			t.Errorf("%s: got an entry, want none", absent)
		}
	}
}

func TestWriteLayerDeterministic(t *testing.T) {
	full := os.Getuid() == 0
	ctx := context.Background()
	var first LayerBlob
	for i := 0; i < 3; i++ {
		dir := t.TempDir()
		buildTree(t, dir, full)
		lb, err := WriteLayer(ctx, newMemStore(), dir)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = lb
			continue
		}
		if lb.DiffID != first.DiffID || lb.Blob.Digest != first.Blob.Digest {
			t.Errorf("write %d: got %s %s, want %s %s", i, lb.DiffID, lb.Blob.Digest, first.DiffID, first.Blob.Digest)
		}
	}
}

func TestWriteLayerEmpty(t *testing.T) {
	bs := newMemStore()
	lb, err := WriteLayer(context.Background(), bs, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const emptyTar = digest.Digest("sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef")
	if got := digest.FromBytes(make([]byte, 1024)); got != emptyTar {
		t.Fatalf("got digest of 1024 zero bytes %s, want %s", got, emptyTar)
	}
	if !lb.Empty || lb.DiffID != emptyTar {
		t.Errorf("got Empty=%v DiffID=%s, want Empty=true DiffID=%s", lb.Empty, lb.DiffID, emptyTar)
	}
	blob, err := bs.ReadBlob(lb.Blob.Digest)
	if err != nil {
		t.Fatal(err)
	}
	// The gzip header carries no name and a zero mtime.
	if len(blob) < 10 || blob[3] != 0 || !bytes.Equal(blob[4:8], []byte{0, 0, 0, 0}) {
		t.Errorf("got gzip header % x, want flags 0 and mtime 0", blob[:10])
	}
}

func TestWriteLayerRefuses(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  error
	}{
		{"reserved name", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, ".wh.x"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, ErrReservedName},
		{"redirect dir", func(t *testing.T, dir string) {
			requireRoot(t)
			if err := os.Mkdir(filepath.Join(dir, "moved"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := unix.Setxattr(filepath.Join(dir, "moved"), "trusted.overlay.redirect", []byte("/orig"), 0); err != nil {
				t.Fatal(err)
			}
		}, ErrOverlayFeature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			_, err := WriteLayer(context.Background(), newMemStore(), dir)
			if !errors.Is(err, tt.want) {
				t.Errorf("got error %v, want %v", err, tt.want)
			}
		})
	}
}
