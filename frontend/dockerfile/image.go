package dockerfile

import (
	"context"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Image is an image config as Docker writes it: the OCI image config plus
// the fields Docker keeps in "config" that image-spec has no place for
// (Healthcheck, OnBuild, Shell). Its JSON is byte-for-byte the shape of
// Docker's (github.com/moby/docker-image-spec's DockerOCIImage): the outer
// Config shadows the embedded ocispec.Image's Config field, and
// ImageConfig's embedded ocispec.ImageConfig contributes its fields at the
// same level as the extra ones.
//
// The embedded ocispec.Image's own Config field is unused; OCI returns the
// image with it filled in.
type Image struct {
	ocispec.Image
	Config ImageConfig `json:"config,omitempty"`
}

// ImageConfig is ocispec.ImageConfig plus Docker's extra fields.
type ImageConfig struct {
	ocispec.ImageConfig
	Healthcheck *HealthConfig `json:"Healthcheck,omitempty"`
	OnBuild     []string      `json:"OnBuild,omitempty"` // ONBUILD triggers, as written after ONBUILD
	Shell       []string      `json:"Shell,omitempty"`   // SHELL; Docker keeps it, OCI has no field
}

// HealthConfig is Docker's HEALTHCHECK configuration (durations in
// nanoseconds in JSON, as Docker's).
type HealthConfig struct {
	// Test is ["NONE"], ["CMD", argv...] or ["CMD-SHELL", command].
	Test          []string      `json:",omitempty"`
	Interval      time.Duration `json:",omitempty"`
	Timeout       time.Duration `json:",omitempty"`
	StartPeriod   time.Duration `json:",omitempty"`
	StartInterval time.Duration `json:",omitempty"`
	Retries       int           `json:",omitempty"`
}

// OCI returns img as an ocispec.Image, without the Docker-only fields.
func (img Image) OCI() ocispec.Image {
	out := img.Image
	out.Config = img.Config.ImageConfig
	return out
}

// ConfigResolver is an optional interface of an ImageResolver: one that
// returns the whole config, with Docker's extra fields, lets FROM run a base
// image's ONBUILD triggers and inherit its HEALTHCHECK and SHELL. Without it
// those are lost from base images (the ocispec.Image has no place for them).
type ConfigResolver interface {
	ResolveConfig(ctx context.Context, ref string) (digest.Digest, Image, error)
}
