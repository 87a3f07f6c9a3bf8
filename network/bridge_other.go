//go:build !linux

package network

import (
	"errors"
	"net"
)

var errNoBridges = errors.New("bridge networks need Linux")

// Ensure is unsupported off Linux.
func (b Bridge) Ensure() (warning, err error) { return nil, errNoBridges }

// Remove is unsupported off Linux.
func (b Bridge) Remove() error { return errNoBridges }

// Connect is unsupported off Linux.
func (b Bridge) Connect(pid int, hostVeth string, ip net.IP) error { return errNoBridges }

// Disconnect is unsupported off Linux.
func Disconnect(hostVeth string) error { return errNoBridges }

// HostRoutes is unsupported off Linux.
func HostRoutes() ([]*net.IPNet, error) { return nil, errNoBridges }

// LinkExists is false off Linux.
func LinkExists(name string) bool { return false }
