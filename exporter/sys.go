package exporter

import "time"

// fileKind is the type of a directory entry, independent of the platform's
// mode bits.
type fileKind int

const (
	kindOther fileKind = iota
	kindDir
	kindReg
	kindSymlink
	kindChar
	kindBlock
	kindFifo
	kindSocket
)

// fileStat is what WriteLayer needs from lstat(2).
type fileStat struct {
	kind         fileKind
	perm         int64 // permission, setuid, setgid and sticky bits (07777)
	uid, gid     int
	dev, ino     uint64
	nlink        uint64
	major, minor int64 // device number for kindChar and kindBlock
	size         int64
	mtime        time.Time
}

// Names of the overlayfs xattrs kiln reads and writes. Overlay mounted with
// "userxattr" (rootless) uses the user.overlay. prefix instead.
const (
	xattrOpaque       = "trusted.overlay.opaque"
	xattrCapability   = "security.capability"
	overlayPrefix     = "trusted.overlay."
	userOverlayPrefix = "user.overlay."
)
