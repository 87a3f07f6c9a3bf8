package compression

import (
	"bytes"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

func TestDecompress(t *testing.T) {
	const want = "a tar stream, or anything"
	compress := map[string]func(io.Writer) io.WriteCloser{
		"gzip": func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) },
		"zstd": func(w io.Writer) io.WriteCloser { z, _ := zstd.NewWriter(w); return z },
		"xz":   func(w io.Writer) io.WriteCloser { z, _ := xz.NewWriter(w); return z },
	}
	inputs := map[string][]byte{
		"": []byte(want),
		// compress/bzip2 has no writer: a tiny stream made by bzip2(1).
		"bzip2": {0x42, 0x5a, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59},
	}
	for name, newW := range compress {
		var buf bytes.Buffer
		w := newW(&buf)
		io.WriteString(w, want)
		w.Close()
		inputs[name] = buf.Bytes()
	}
	for name, in := range inputs {
		if got := Detect(in); got != name {
			t.Errorf("Detect(%s stream): got %q, want %q", name, got, name)
		}
		if name == "bzip2" {
			continue // a header only: detection is what is tested
		}
		rc, err := Decompress(bytes.NewReader(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != want {
			t.Errorf("%s: got %q, %v; want %q", name, got, err, want)
		}
	}
}
