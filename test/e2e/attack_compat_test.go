package e2e

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// i386Keyctl is a minimal static i386 ELF that calls
// keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 1) through
// int 0x80, with i386's own syscall numbers, and exits 0 if it worked, or
// with the errno (1 for EPERM).
func i386Keyctl() []byte {
	code := []byte{
		0xb8, 0x20, 0x01, 0x00, 0x00, // mov eax, 288 (keyctl on i386; accept4 on x86_64)
		0xbb, 0x00, 0x00, 0x00, 0x00, // mov ebx, KEYCTL_GET_KEYRING_ID
		0xb9, 0xfe, 0xff, 0xff, 0xff, // mov ecx, KEY_SPEC_PROCESS_KEYRING
		0xba, 0x01, 0x00, 0x00, 0x00, // mov edx, 1 (create)
		0xcd, 0x80, // int 0x80
		0x85, 0xc0, // test eax, eax
		0x79, 0x06, // jns ok
		0xf7, 0xd8, // neg eax
		0x89, 0xc3, // mov ebx, eax
		0xeb, 0x02, // jmp exit
		0x31, 0xdb, // ok: xor ebx, ebx
		0xb8, 0x01, 0x00, 0x00, 0x00, // exit: mov eax, 1
		0xcd, 0x80, // int 0x80
	}
	const base, hdr = 0x08048000, 52 + 32
	b := make([]byte, hdr, hdr+len(code))
	copy(b, []byte{0x7f, 'E', 'L', 'F', 1, 1, 1})
	le := binary.LittleEndian
	le.PutUint16(b[16:], 2)        // ET_EXEC
	le.PutUint16(b[18:], 3)        // EM_386
	le.PutUint32(b[20:], 1)        // EV_CURRENT
	le.PutUint32(b[24:], base+hdr) // entry
	le.PutUint32(b[28:], 52)       // program headers
	le.PutUint16(b[40:], 52)       // header size
	le.PutUint16(b[42:], 32)       // program header size
	le.PutUint16(b[44:], 1)        // one program header
	ph := b[52:]
	le.PutUint32(ph[0:], 1) // PT_LOAD
	le.PutUint32(ph[8:], base)
	le.PutUint32(ph[12:], base)
	le.PutUint32(ph[16:], uint32(hdr+len(code)))
	le.PutUint32(ph[20:], uint32(hdr+len(code)))
	le.PutUint32(ph[24:], 5) // R+X
	le.PutUint32(ph[28:], 0x1000)
	return append(b, code...)
}

// TestAttackSeccompCompatABI: a 32-bit binary enters the kernel through
// int 0x80 with i386 syscall numbers, where a filter checking x86_64
// numbers would let keyctl (288 on i386, accept4 on x86_64) through.
// kiln's filter has a block, and a syscall table, for each ABI.
func TestAttackSeccompCompatABI(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the i386 ABI exists on amd64 only")
	}
	root := newBusyboxRoot(t)
	dir := newContext(t, map[string]string{"Dockerfile": "FROM busybox\nCOPY u32 /u32\n"})
	if err := os.WriteFile(filepath.Join(dir, "u32"), i386Keyctl(), 0o755); err != nil {
		t.Fatal(err)
	}
	mustKiln(t, root, "build", "-q", "-t", "compat", dir)
	_, stderr, code := kiln(t, root, "run", "--rm", "--security-opt", "seccomp=unconfined", "compat", "/u32")
	switch code {
	case 0:
	case 126, 127:
		t.Skipf("this kernel runs no i386 binaries (exit %d: %s)", code, stderr)
	default:
		t.Skipf("keyctl from i386 fails here even unconfined (exit %d); nothing to compare", code)
	}
	if _, _, code := kiln(t, root, "run", "--rm", "compat", "/u32"); code != 1 {
		t.Errorf("i386 keyctl under the default filter: got exit %d, want 1 (EPERM)", code)
	}
}
