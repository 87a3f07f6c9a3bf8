package solver

import (
	"strconv"

	digest "github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/exporter"
)

// epochKey mixes SOURCE_DATE_EPOCH into a step's cache key: the same step
// gives a layer with other mtimes under another epoch (or none). Without
// an epoch the key is unchanged, so existing caches stay valid.
func (st *state) epochKey(key digest.Digest) digest.Digest {
	if st.opt.SourceDateEpoch == nil {
		return key
	}
	return digest.FromString(key.String() + " source-date-epoch " + strconv.FormatInt(st.opt.SourceDateEpoch.Unix(), 10))
}

func (st *state) layerOptions() []exporter.LayerOption {
	if st.opt.SourceDateEpoch == nil {
		return nil
	}
	return []exporter.LayerOption{exporter.WithSourceDateEpoch(*st.opt.SourceDateEpoch)}
}
