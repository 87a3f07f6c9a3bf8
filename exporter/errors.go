package exporter

import "errors"

var (
	// ErrUnsafePath reports a layer entry whose name or link target is
	// absolute or climbs out of the extraction root with "..".
	ErrUnsafePath = errors.New("path escapes layer root")
	// ErrUnsupportedEntry reports a tar entry type kiln does not extract
	// (GNU sparse files, for example), or a file kind it cannot archive.
	ErrUnsupportedEntry = errors.New("unsupported entry type")
	// ErrReservedName reports a file in a layer directory whose name starts
	// with ".wh.", which OCI layers reserve for whiteouts.
	ErrReservedName = errors.New("name reserved for whiteouts")
	// ErrOverlayFeature reports an overlay upper directory using a feature
	// that cannot be expressed as an OCI diff (redirect_dir, metacopy);
	// the executor must mount with redirect_dir=off,metacopy=off.
	ErrOverlayFeature = errors.New("unsupported overlay feature")
	// ErrNotEmpty reports an extraction target directory that has entries.
	ErrNotEmpty = errors.New("directory not empty")
	// ErrHistoryMismatch reports an image history that names more layers
	// than were given.
	ErrHistoryMismatch = errors.New("history does not match layers")
	// ErrInvalidImage reports a manifest or config that is not a single
	// platform image kiln can read.
	ErrInvalidImage = errors.New("invalid image")
	// ErrUnknownCompression reports a compression other than gzip, zstd
	// and uncompressed.
	ErrUnknownCompression = errors.New("unknown compression")
	// ErrDigestMismatch reports content that does not hash to the digest
	// that names it (a blob, a config's diff ID).
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrUnsafeLink reports a hard link whose target is not an earlier
	// file of the same layer, or an entry written through a symlink of its
	// own layer.
	ErrUnsafeLink = errors.New("link escapes layer")
	// ErrDevice reports a device node in a layer that this process cannot
	// create (it is not root).
	ErrDevice = errors.New("device node cannot be created")
	// ErrInvalidArchive reports an image archive kiln cannot read: neither
	// a docker-archive nor an OCI layout, or one with missing pieces.
	ErrInvalidArchive = errors.New("invalid image archive")
)
