// Package compression recognises and undoes the compressions a tar stream
// may come in: gzip, bzip2, xz and zstd, sniffed from their magic bytes as
// Docker does, never from a file name. Both layer extraction (exporter)
// and ADD's archive unpacking (executor) read through it.
package compression

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

var (
	magicGzip  = []byte{0x1f, 0x8b}
	magicBzip2 = []byte("BZh")
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Decompress returns the uncompressed stream of r. A stream in none of the
// known formats (a plain tar, or a short one) is returned as it is.
func Decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(len(magicXz)) // a short read is simply not compressed
	switch {
	case bytes.HasPrefix(magic, magicGzip):
		// Not pgzip: decompression is serial anyway, and under fuzzing
		// pgzip's read-ahead goroutine hung on some corrupt streams.
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case bytes.HasPrefix(magic, magicBzip2):
		return io.NopCloser(bzip2.NewReader(br)), nil
	case bytes.HasPrefix(magic, magicXz):
		zr, err := xz.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("xz: %w", err)
		}
		return io.NopCloser(zr), nil
	case bytes.HasPrefix(magic, magicZstd):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

// Detect names the compression whose magic bytes start head: "gzip",
// "bzip2", "xz", "zstd", or "" for none of them.
func Detect(head []byte) string {
	switch {
	case bytes.HasPrefix(head, magicGzip):
		return "gzip"
	case bytes.HasPrefix(head, magicBzip2):
		return "bzip2"
	case bytes.HasPrefix(head, magicXz):
		return "xz"
	case bytes.HasPrefix(head, magicZstd):
		return "zstd"
	}
	return ""
}
