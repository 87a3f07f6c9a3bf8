package exporter

import "time"

// LayerOption configures WriteLayer.
type LayerOption func(*layerOptions)

type layerOptions struct {
	epoch *time.Time
	comp  Compression
	level int
}

// WithCompression makes WriteLayer compress with c at level (0 for the
// default) instead of the store's gzip at the default level.
func WithCompression(c Compression, level int) LayerOption {
	return func(o *layerOptions) { o.comp, o.level = c, level }
}

// WithSourceDateEpoch clamps layer mtimes to t, as SOURCE_DATE_EPOCH asks
// (reproducible-builds.org): a file newer than t is written with mtime t,
// older files keep theirs. Directories a build step created, and files it
// wrote, then carry t whatever the clock said, so two builds of the same
// inputs give the same diff IDs.
func WithSourceDateEpoch(t time.Time) LayerOption {
	return func(o *layerOptions) {
		t := t.UTC().Truncate(time.Second)
		o.epoch = &t
	}
}
