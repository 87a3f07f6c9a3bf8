package exporter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kiln-build/kiln/cache"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Docker's media types, accepted by ReadImage for images that were pulled
// or loaded in Docker's format; kiln writes only OCI types.
const (
	mediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerConfig   = "application/vnd.docker.container.image.v1+json"
)

// WriteImage writes the config and manifest of an image made of layers
// (bottom first, including Empty ones) and returns the manifest
// descriptor, with the platform of img.
//
// History entries with EmptyLayer=false are paired in order with layers.
// An Empty layer is left out of the manifest and rootfs.diff_ids, and its
// history entry is marked empty_layer. History naming more layers than
// given is an error; layers beyond the history are kept without history.
//
// Timestamps come from the layers, never the clock, so that a rebuild from
// cache (same layers, same Created) gives the same digest: a history entry
// without Created takes its layer's Created, or for a metadata-only entry
// the time of the entry before it; img.Created, if nil, is the latest
// history time (or, without history times, the latest layer's Created).
func WriteImage(ctx context.Context, bs BlobStore, img ocispec.Image, layers []cache.Layer, opts ...ImageOption) (ocispec.Descriptor, error) {
	var o imageOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := ctx.Err(); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("write image: %w", err)
	}
	diffIDs := make([]digest.Digest, 0, len(layers))
	blobs := make([]ocispec.Descriptor, 0, len(layers))
	addLayer := func(l cache.Layer) {
		if !l.Empty {
			diffIDs = append(diffIDs, l.DiffID)
			blobs = append(blobs, l.Blob)
		}
	}

	// Copy the history so the caller's slice is not modified.
	history := make([]ocispec.History, len(img.History))
	copy(history, img.History)
	var prev, latest *time.Time
	next := 0
	for i := range history {
		h := &history[i]
		if !h.EmptyLayer {
			if next >= len(layers) {
				return ocispec.Descriptor{}, fmt.Errorf("write image: history entry %d (%q) has no layer, %d given: %w",
					i, h.CreatedBy, len(layers), ErrHistoryMismatch)
			}
			l := layers[next]
			next++
			addLayer(l)
			if l.Empty {
				h.EmptyLayer = true
			}
			if h.Created == nil && !l.Created.IsZero() {
				h.Created = timePtr(l.Created)
			}
		} else if h.Created == nil && prev != nil {
			h.Created = timePtr(*prev)
		}
		if h.Created != nil {
			prev = h.Created
			if latest == nil || h.Created.After(*latest) {
				latest = h.Created
			}
		}
	}
	var latestLayer *time.Time
	for _, l := range layers[next:] {
		addLayer(l)
	}
	for _, l := range layers {
		if !l.Created.IsZero() && (latestLayer == nil || l.Created.After(*latestLayer)) {
			latestLayer = timePtr(l.Created)
		}
	}
	img.History = history
	if img.Created == nil {
		switch {
		case latest != nil:
			img.Created = timePtr(*latest)
		case latestLayer != nil:
			img.Created = latestLayer
		}
	}
	img.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: diffIDs}

	cfg, err := configJSON(img, o.extra)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("write image: config: %w", err)
	}
	config, err := putJSON(bs, ocispec.MediaTypeImageConfig, cfg)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("write image: config: %w", err)
	}
	manifest := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    config,
		Layers:    blobs,
	}
	desc, err := putJSON(bs, ocispec.MediaTypeImageManifest, manifest)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("write image: manifest: %w", err)
	}
	desc.Platform = &ocispec.Platform{
		Architecture: img.Architecture,
		OS:           img.OS,
		OSVersion:    img.OSVersion,
		OSFeatures:   img.OSFeatures,
		Variant:      img.Variant,
	}
	return desc, nil
}

// timePtr returns a pointer to a copy of t in UTC, so that equal instants
// encode equally whatever location they were made in.
func timePtr(t time.Time) *time.Time {
	t = t.UTC()
	return &t
}

// putJSON stores v as canonical-enough JSON (encoding/json sorts map keys
// and keeps struct order) and checks the store agrees on the digest.
func putJSON(bs BlobStore, mediaType string, v any) (ocispec.Descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	want := digest.FromBytes(b)
	d, size, err := bs.PutBlob(bytes.NewReader(b))
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if d != want || size != int64(len(b)) {
		return ocispec.Descriptor{}, fmt.Errorf("store returned %s (%d bytes), want %s (%d bytes)", d, size, want, len(b))
	}
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: size}, nil
}

// ReadImage reads a manifest and its config. Docker v2 schema 2 manifests
// are accepted too; indexes are not (ErrInvalidImage).
func ReadImage(ctx context.Context, bs BlobStore, manifest digest.Digest) (ocispec.Manifest, ocispec.Image, error) {
	if err := ctx.Err(); err != nil {
		return ocispec.Manifest{}, ocispec.Image{}, fmt.Errorf("read image %s: %w", manifest, err)
	}
	var m ocispec.Manifest
	var img ocispec.Image
	b, err := bs.ReadBlob(manifest)
	if err != nil {
		return m, img, fmt.Errorf("read image %s: %w", manifest, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, img, fmt.Errorf("read image %s: manifest: %w: %w", manifest, ErrInvalidImage, err)
	}
	switch m.MediaType {
	case ocispec.MediaTypeImageManifest, mediaTypeDockerManifest:
	case "":
		// The media type is optional in OCI manifests; an index would have
		// "manifests" instead of "config".
		if m.Config.Digest == "" {
			return m, img, fmt.Errorf("read image %s: not a manifest: %w", manifest, ErrInvalidImage)
		}
	default:
		return m, img, fmt.Errorf("read image %s: media type %q: %w", manifest, m.MediaType, ErrInvalidImage)
	}
	if m.SchemaVersion != 2 {
		return m, img, fmt.Errorf("read image %s: schema version %d: %w", manifest, m.SchemaVersion, ErrInvalidImage)
	}
	switch m.Config.MediaType {
	case ocispec.MediaTypeImageConfig, mediaTypeDockerConfig:
	default:
		return m, img, fmt.Errorf("read image %s: config media type %q: %w", manifest, m.Config.MediaType, ErrInvalidImage)
	}
	cb, err := bs.ReadBlob(m.Config.Digest)
	if err != nil {
		return m, img, fmt.Errorf("read image %s: config: %w", manifest, err)
	}
	if err := json.Unmarshal(cb, &img); err != nil {
		return m, img, fmt.Errorf("read image %s: config: %w: %w", manifest, ErrInvalidImage, err)
	}
	if len(img.RootFS.DiffIDs) != len(m.Layers) {
		return m, img, fmt.Errorf("read image %s: %d diff_ids for %d layers: %w",
			manifest, len(img.RootFS.DiffIDs), len(m.Layers), ErrInvalidImage)
	}
	return m, img, nil
}
