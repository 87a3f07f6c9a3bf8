// Package exporter is the last stage of kiln's pipeline: it turns the
// snapshots the solver produced into OCI content and back.
//
// A layer in kiln is a directory in overlay form (whiteouts are 0/0
// character devices, opaque directories carry trusted.overlay.opaque=y).
// WriteLayer tars such a directory, typically a RUN's upper directory,
// into an OCI layer diff (whiteouts become ".wh." entries), compresses it
// and stores it in a BlobStore; ExtractLayer does the reverse for layers
// that are pulled, loaded or read back from the store, producing a
// directory that can serve as an overlay lowerdir. WriteImage and
// ReadImage write and read the config and manifest that tie layers into an
// image. Outputs (OCI layout, docker-archive, registry) build on these.
//
// Reproducibility is a goal wherever it is free: layer tars are written in
// a fixed order with fixed header formats, gzip output does not depend on
// the machine, and image timestamps come from the layers rather than the
// clock, so a rebuild from cache gives the same digests.
package exporter
