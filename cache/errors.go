package cache

import "errors"

var (
	// ErrNotFound is returned (wrapped) for a missing image, blob, layer or
	// build-context source.
	ErrNotFound = errors.New("not found")
	// ErrDigestMismatch is returned by a blob reader whose content does not
	// hash to the digest it was opened by.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrOutsideContext is returned for a COPY source that leaves the build
	// context, directly or through a symlink.
	ErrOutsideContext = errors.New("forbidden path outside the build context")
	// ErrInvalidReference is returned for an image reference that breaks
	// Docker's reference grammar.
	ErrInvalidReference = errors.New("invalid reference format")
	// ErrAmbiguous is returned when a short image ID matches several images.
	ErrAmbiguous = errors.New("ambiguous image ID")
)
