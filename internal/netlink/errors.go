package netlink

import "errors"

var (
	// ErrInvalidName reports an interface name the kernel would refuse:
	// empty or longer than 15 bytes.
	ErrInvalidName = errors.New("invalid interface name")
	// ErrInvalidAddr reports an IP address or prefix that is neither IPv4
	// nor IPv6, or whose mask does not fit it.
	ErrInvalidAddr = errors.New("invalid address")
)
