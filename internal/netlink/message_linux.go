package netlink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Netlink is host byte order throughout, and every header and attribute
// starts on a 4-byte boundary.
var native = binary.NativeEndian

func align(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// vethInfoPeer is VETH_INFO_PEER from linux/veth.h, which x/sys/unix lacks.
const vethInfoPeer = 1

// A message is a request being built: its type and flags, and a payload of
// one family header (ifinfomsg, ifaddrmsg, rtmsg) followed by attributes.
// The first invalid argument is kept in err and reported when it is sent,
// so building code reads straight through, as with a bufio.Writer.
type message struct {
	typ, flags uint16
	data       []byte
	err        error
}

// newMessage starts a message whose payload begins with hdr, one of the
// unix.IfInfomsg, unix.IfAddrmsg or unix.RtMsg structs.
func newMessage(typ, flags uint16, hdr any) *message {
	m := &message{typ: typ, flags: flags}
	m.put(hdr)
	return m
}

// put appends a fixed-size struct; encoding/binary writes its blank
// padding fields as zeros.
func (m *message) put(v any) {
	b, err := binary.Append(m.data, native, v)
	if err != nil {
		panic(err) // only the unix structs above are ever passed
	}
	m.data = b
	m.pad()
}

func (m *message) pad() {
	for len(m.data) != align(len(m.data)) {
		m.data = append(m.data, 0)
	}
}

// attr appends an rtattr: length, type, value, padding.
func (m *message) attr(typ uint16, v []byte) {
	m.data = native.AppendUint16(m.data, uint16(unix.SizeofRtAttr+len(v)))
	m.data = native.AppendUint16(m.data, typ)
	m.data = append(m.data, v...)
	m.pad()
}

func (m *message) attrUint32(typ uint16, v uint32) { m.attr(typ, native.AppendUint32(nil, v)) }

// attrString appends a NUL-terminated string, as iproute2 does.
func (m *message) attrString(typ uint16, s string) { m.attr(typ, append([]byte(s), 0)) }

// attrName appends an interface name, checking it first: the kernel would
// answer a long name with a bare EINVAL that does not say which argument.
func (m *message) attrName(typ uint16, name string) {
	if err := checkName(name); err != nil && m.err == nil {
		m.err = err
	}
	m.attrString(typ, name)
}

func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case len(name) >= unix.IFNAMSIZ:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidName, unix.IFNAMSIZ-1)
	}
	return nil
}

// begin opens a nested attribute and returns where it starts, for end.
func (m *message) begin(typ uint16) int {
	at := len(m.data)
	m.attr(typ, nil)
	return at
}

// end closes the nested attribute begun at at: its length now covers
// everything appended since.
func (m *message) end(at int) { native.PutUint16(m.data[at:], uint16(len(m.data)-at)) }

// encode returns the message on the wire with the given flags and sequence
// number.
func (m *message) encode(flags uint16, seq uint32) []byte {
	b, _ := binary.Append(nil, native, unix.NlMsghdr{
		Len:   uint32(unix.NLMSG_HDRLEN + len(m.data)),
		Type:  m.typ,
		Flags: flags,
		Seq:   seq,
	})
	return append(b, m.data...)
}

// A reply is one message received: its header and payload.
type reply struct {
	hdr  unix.NlMsghdr
	data []byte
}

var errMalformed = errors.New("malformed netlink message")

// parseMessages splits one datagram into its messages.
func parseMessages(b []byte) ([]reply, error) {
	var msgs []reply
	for len(b) >= unix.NLMSG_HDRLEN {
		var r reply
		if _, err := binary.Decode(b, native, &r.hdr); err != nil {
			return nil, err
		}
		n := int(r.hdr.Len)
		if n < unix.NLMSG_HDRLEN || n > len(b) {
			return nil, fmt.Errorf("%w: length %d of %d bytes", errMalformed, n, len(b))
		}
		r.data = b[unix.NLMSG_HDRLEN:n]
		msgs = append(msgs, r)
		b = b[min(align(n), len(b)):]
	}
	return msgs, nil
}

// parseAttrs returns the attributes in b by type (the nested and
// byte-order flag bits cleared); of repeated types the last one wins. It
// stops at the first attribute that does not fit.
func parseAttrs(b []byte) map[uint16][]byte {
	attrs := map[uint16][]byte{}
	for len(b) >= unix.SizeofRtAttr {
		n := int(native.Uint16(b))
		if n < unix.SizeofRtAttr || n > len(b) {
			break
		}
		attrs[native.Uint16(b[2:])&^(unix.NLA_F_NESTED|unix.NLA_F_NET_BYTEORDER)] = b[unix.SizeofRtAttr:n]
		b = b[min(align(n), len(b)):]
	}
	return attrs
}

// parseHeader decodes the family header v at the start of a payload and
// returns the attributes after it.
func parseHeader(b []byte, v any) (map[uint16][]byte, error) {
	n, err := binary.Decode(b, native, v)
	if err != nil {
		return nil, fmt.Errorf("%w: %d-byte payload", errMalformed, len(b))
	}
	return parseAttrs(b[min(align(n), len(b)):]), nil
}

func getUint32(b []byte) uint32 {
	if len(b) < 4 {
		return 0
	}
	return native.Uint32(b)
}

func getString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// Error is what the kernel answered a request with: the errno and, when it
// sent one (extended ack), the kernel's own explanation.
type Error struct {
	Errno unix.Errno
	Msg   string // e.g. "Unknown device type"; often empty
}

// Error returns the errno's text, then the kernel's message if any.
func (e *Error) Error() string {
	if e.Msg == "" {
		return e.Errno.Error()
	}
	return e.Errno.Error() + " (" + e.Msg + ")"
}

// Unwrap returns the errno, which itself matches os.ErrExist for EEXIST
// and os.ErrNotExist for ENOENT.
func (e *Error) Unwrap() error { return e.Errno }

// Is makes ENODEV, the kernel's answer for a link that is not there, match
// os.ErrNotExist too.
func (e *Error) Is(target error) bool {
	return target == os.ErrNotExist && e.Errno == unix.ENODEV
}

// parseError decodes the payload of NLMSG_ERROR (an ack when its code is
// 0) or of NLMSG_DONE (a dump's final status).
func parseError(r reply) error {
	if len(r.data) < 4 {
		return nil // NLMSG_DONE from kernels that sent no status
	}
	code := int32(native.Uint32(r.data))
	if code >= 0 {
		return nil
	}
	e := &Error{Errno: unix.Errno(-code)}
	if r.hdr.Type == unix.NLMSG_ERROR && r.hdr.Flags&unix.NLM_F_ACK_TLVS != 0 {
		// The TLVs follow the echoed request: its header only when
		// capped, else the whole of it.
		off := 4 + unix.NLMSG_HDRLEN
		if r.hdr.Flags&unix.NLM_F_CAPPED == 0 && len(r.data) >= off {
			off = 4 + int(native.Uint32(r.data[4:]))
		}
		if off = align(off); off <= len(r.data) {
			e.Msg = getString(parseAttrs(r.data[off:])[unix.NLMSGERR_ATTR_MSG])
		}
	}
	return e
}
