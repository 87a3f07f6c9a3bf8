package netlink

import (
	"fmt"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// Handle is a netlink socket bound to one network namespace. Its methods
// may be called from several goroutines; requests on one Handle take turns.
type Handle struct {
	mu  sync.Mutex
	fd  int // -1 once closed
	seq uint32
}

// Open opens a NETLINK_ROUTE socket in the calling thread's current network
// namespace. The socket keeps that namespace whatever the thread does later.
func Open() (*Handle, error) {
	h, err := open()
	if err != nil {
		return nil, fmt.Errorf("netlink: open: %w", err)
	}
	return h, nil
}

func open() (*Handle, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	// Best effort, both from Linux 4.12 on: the kernel's own words in
	// errors (extended ack), without echoing the whole failed request back.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	return &Handle{fd: fd}, nil
}

// OpenIn opens a socket inside the network namespace at nsPath, such as
// "/proc/PID/ns/net" or a bind mount of one. The socket stays bound to that
// namespace; the calling goroutine and its thread never leave their own.
func OpenIn(nsPath string) (*Handle, error) {
	ns, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("netlink: open netns %s: %w", nsPath, err)
	}
	defer unix.Close(ns)

	type result struct {
		h   *Handle
		err error
	}
	done := make(chan result, 1)
	// setns moves one thread, so the work happens on a goroutine locked to
	// a thread of its own. If that thread cannot get back to its namespace
	// the goroutine exits still locked, and the runtime ends the thread
	// rather than let other goroutines run in the wrong namespace.
	go func() {
		runtime.LockOSThread()
		self, err := unix.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("open current netns: %w", err)}
			return
		}
		defer unix.Close(self)
		if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("setns: %w", err)}
			return
		}
		h, err := open()
		if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
			if h != nil {
				h.Close()
			}
			done <- result{err: fmt.Errorf("setns back: %w", err)}
			return // still locked: the thread dies with this goroutine
		}
		runtime.UnlockOSThread()
		done <- result{h, err}
	}()
	r := <-done
	if r.err != nil {
		return nil, fmt.Errorf("netlink: open in %s: %w", nsPath, r.err)
	}
	return r.h, nil
}

// Close closes the socket. Requests after Close fail with os.ErrClosed.
func (h *Handle) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fd < 0 {
		return os.ErrClosed
	}
	err := unix.Close(h.fd)
	h.fd = -1
	return err
}

// request sends m and returns the payloads of the replies to it. Requests
// other than dumps ask for an ack, so every exchange ends with NLMSG_ERROR
// (code 0 for success), or for a dump, whose replies carry NLM_F_MULTI and
// may fill many datagrams, with NLMSG_DONE.
func (h *Handle) request(m *message) ([][]byte, error) {
	if m.err != nil {
		return nil, m.err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fd < 0 {
		return nil, os.ErrClosed
	}
	h.seq++
	seq := h.seq
	flags := m.flags | unix.NLM_F_REQUEST
	if m.flags&unix.NLM_F_DUMP != unix.NLM_F_DUMP {
		flags |= unix.NLM_F_ACK
	}
	if err := unix.Sendto(h.fd, m.encode(flags, seq), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	var payloads [][]byte
	for {
		b, err := h.recv()
		if err != nil {
			return nil, err
		}
		msgs, err := parseMessages(b)
		if err != nil {
			return nil, err
		}
		for _, r := range msgs {
			// Replies to an earlier request that was abandoned half-read
			// (a receive error) may still be queued: skip them.
			if r.hdr.Seq != seq {
				continue
			}
			switch r.hdr.Type {
			case unix.NLMSG_ERROR, unix.NLMSG_DONE:
				if err := parseError(r); err != nil {
					return nil, err
				}
				return payloads, nil
			case unix.NLMSG_NOOP:
			default:
				payloads = append(payloads, r.data)
			}
		}
	}
}

// recv reads one datagram whole. It peeks at the size first: the kernel
// sizes a dump's datagrams after the buffers it has seen, but one message
// (a link with many virtual functions) can be larger than any fixed
// buffer, and a short read would silently drop the rest.
func (h *Handle) recv() ([]byte, error) {
	for {
		n, _, err := unix.Recvfrom(h.fd, nil, unix.MSG_PEEK|unix.MSG_TRUNC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("receive: %w", err)
		}
		b := make([]byte, n)
		n, _, err = unix.Recvfrom(h.fd, b, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("receive: %w", err)
		}
		return b[:n], nil
	}
}
