package executor

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSealedExe(t *testing.T) {
	p, err := sealedExe()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := sealedExe()
	if again != p {
		t.Errorf("second call: got %s, want the cached %s", again, p)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checkSealed(t, f)
}

// TestSealedExeWays checks each way of sealing, whichever sealedExe picks
// on this machine.
func TestSealedExeWays(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func() (*os.File, error)
	}{
		{"overlay", overlayExe},
		{"memfd", memfdExe},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := tc.open()
			if err != nil {
				if tc.name == "overlay" && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.ENODEV)) {
					t.Skipf("no private overlayfs here (%v): the memfd copy is used", err)
				}
				t.Fatal(err)
			}
			defer f.Close()
			checkSealed(t, f)
			if tc.name == "memfd" {
				got, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
				if err != nil {
					t.Fatal(err)
				}
				if got&seals != seals {
					t.Errorf("seals: got %#x, want %#x set", got, seals)
				}
			}
		})
	}
}

// checkSealed checks that f is this binary and that no write reaches it.
func checkSealed(t *testing.T, f *os.File) {
	t.Helper()
	if got, want := hashFile(t, f), hashFile(t, nil); !bytes.Equal(got, want) {
		t.Errorf("content: got sha256 %x, want %x (this binary's)", got, want)
	}
	// The CVE-2019-5736 move: open the runtime's exe for writing.
	if err := tryWrite(fmt.Sprintf("/proc/self/fd/%d", f.Fd())); err == nil {
		t.Fatal("writing the sealed binary: got no error, want a refusal")
	}
}

// TestOverlayExeRemount: whoever held the overlay's mount and cleared its
// read-only flag still could not write the binary, since an overlay without
// an upper layer is read-only in its superblock.
func TestOverlayExeRemount(t *testing.T) {
	mnt, name, err := overlayMount()
	if err != nil {
		t.Skipf("no private overlayfs here (%v): the memfd copy is used", err)
	}
	defer unix.Close(mnt)
	if err := unix.MountSetattr(mnt, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY}); err != nil {
		t.Fatalf("clear MOUNT_ATTR_RDONLY: %v", err)
	}
	fd, err := unix.Openat(mnt, name, unix.O_WRONLY|unix.O_APPEND|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
		t.Fatal("open the binary for writing on a read-write overlay mount: got no error, want EROFS")
	}
	if !errors.Is(err, unix.EROFS) {
		t.Errorf("open the binary for writing on a read-write overlay mount: got %v, want EROFS", err)
	}
}

func tryWrite(p string) error {
	w, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer w.Close()
	_, err = w.Write([]byte("#!/bin/sh\n"))
	return err
}

// hashFile hashes f from its start, or /proc/self/exe when f is nil.
func hashFile(t *testing.T, f *os.File) []byte {
	t.Helper()
	if f == nil {
		self, err := os.Open("/proc/self/exe")
		if err != nil {
			t.Fatal(err)
		}
		defer self.Close()
		f = self
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<40)); err != nil {
		t.Fatal(err)
	}
	return h.Sum(nil)
}
