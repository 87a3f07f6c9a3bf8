package testutil

import "errors"

// ErrNoDockerd says the Docker engine is not installed, so there is no
// peer to compare kiln with; tests skip with its text.
var ErrNoDockerd = errors.New("dockerd is not installed: apt-get install docker.io")

// errGraphdriver says dockerd could not set up the storage driver it was
// given; StartDockerd then tries vfs.
var errGraphdriver = errors.New("dockerd cannot use the storage driver")
