// Package tartest builds tar streams in code for tests, including the
// malformed and hostile ones no well-behaved archiver would write.
package tartest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"testing"
	"time"
)

// Entry is one tar entry: a header and, for regular files, its content.
type Entry struct {
	Header tar.Header
	Body   string
}

// owner returns the ids the helpers give entries: the current user's, so
// that tests extracting them need not run as root.
func owner() (uid, gid int) { return os.Getuid(), os.Getgid() }

// Epoch is the mtime the helpers give entries, so built tars are stable.
var Epoch = time.Unix(1700000000, 0)

// File returns a regular file entry with mode 0644.
func File(name, body string) Entry {
	uid, gid := owner()
	return Entry{Header: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: Epoch, Uid: uid, Gid: gid}, Body: body}
}

// Dir returns a directory entry with mode 0755.
func Dir(name string) Entry {
	uid, gid := owner()
	return Entry{Header: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: Epoch, Uid: uid, Gid: gid}}
}

// Symlink returns a symlink entry.
func Symlink(name, target string) Entry {
	uid, gid := owner()
	return Entry{Header: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: Epoch, Uid: uid, Gid: gid}}
}

// Link returns a hard link entry.
func Link(name, target string) Entry {
	uid, gid := owner()
	return Entry{Header: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644, ModTime: Epoch, Uid: uid, Gid: gid}}
}

// Build returns the tar of entries, in order. Sizes of regular files are
// taken from their bodies unless the header sets one.
func Build(tb testing.TB, entries ...Entry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.Header
		if hdr.Typeflag == tar.TypeReg && hdr.Size == 0 {
			hdr.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			tb.Fatalf("tartest: header %q: %v", hdr.Name, err)
		}
		if e.Body != "" {
			if _, err := tw.Write([]byte(e.Body)); err != nil {
				tb.Fatalf("tartest: body %q: %v", hdr.Name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatalf("tartest: close: %v", err)
	}
	return buf.Bytes()
}

// Gzip returns b compressed with gzip.
func Gzip(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		tb.Fatalf("tartest: gzip: %v", err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatalf("tartest: gzip: %v", err)
	}
	return buf.Bytes()
}
