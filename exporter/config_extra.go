package exporter

import (
	"encoding/json"
	"fmt"
	"maps"
)

// ImageOption configures WriteImage.
type ImageOption func(*imageOptions)

type imageOptions struct {
	extra map[string]any
}

// WithConfigFields adds fields to the image config's "config" object that
// image-spec has no place for but Docker's config JSON has (Healthcheck,
// OnBuild, Shell), so images keep them and `docker inspect` shows them.
// Nil values are left out.
func WithConfigFields(fields map[string]any) ImageOption {
	return func(o *imageOptions) {
		for k, v := range fields {
			if v != nil {
				if o.extra == nil {
					o.extra = map[string]any{}
				}
				o.extra[k] = v
			}
		}
	}
}

// configJSON is the image config as stored: img, plus any extra fields in
// its "config" object. Without extras it is img's plain encoding, so images
// without Docker-only fields keep their digests.
func configJSON(img any, extra map[string]any) (any, error) {
	if len(extra) == 0 {
		return img, nil
	}
	b, err := json.Marshal(img)
	if err != nil {
		return nil, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, err
	}
	cfg := map[string]any{}
	if raw, ok := top["config"]; ok {
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	maps.Copy(cfg, extra)
	enc, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	top["config"] = enc
	return top, nil
}
