// Package netlink is the part of running a container that wires up its
// network: a small rtnetlink client that creates a bridge on the host, a
// veth pair with one end inside the container's network namespace, and the
// addresses and default route there. It hands the executor nothing but
// configured kernel state; the container's process finds eth0 ready.
//
// It speaks NETLINK_ROUTE directly (golang.org/x/sys/unix sockets, messages
// built and parsed here) and never shells out to ip(8). A Handle is bound
// to one network namespace for its whole life: Open uses the calling
// thread's, OpenIn enters another one just long enough to open the socket.
//
// Only Linux has netlink, and only Linux code (the executor's) calls it, so
// elsewhere the package holds just its types: there is no handle_other.go of
// stubs returning errors.ErrUnsupported that nothing could reach.
//
// Errors the kernel answers with are *Error values wrapping the errno, so
// errors.Is(err, unix.EEXIST) and errors.Is(err, os.ErrExist) both work, and
// a missing link (ENODEV) matches os.ErrNotExist.
package netlink
