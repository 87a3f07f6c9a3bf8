package registry

import (
	"context"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/oci"
)

// PushLayout pushes the manifest desc and the blobs it names from the OCI
// layout dir (blobs/<alg>/<hex>) to ref. The build cache travels this way
// (--cache-to type=registry): exported into a layout, then pushed.
func (c *Client) PushLayout(ctx context.Context, dir string, desc ocispec.Descriptor, ref string) error {
	r, err := ParseReference(ref)
	if err != nil {
		return err
	}
	src, err := oci.NewStorage(dir)
	if err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	repo, err := c.repository(ctx, r)
	if err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	if err := oras.CopyGraph(ctx, src, repo, desc, c.copyOptions(nil, r, true)); err != nil {
		return fmt.Errorf("push %s: %w", ref, explain(r.Registry, err))
	}
	if err := repo.Tag(ctx, desc, r.Reference); err != nil {
		return fmt.Errorf("push %s: tag: %w", ref, explain(r.Registry, err))
	}
	return nil
}

// PullLayout copies the manifest ref and the blobs it names into the OCI
// layout dir and returns its descriptor; index.json is left to the caller.
// Every blob is checked against its digest as it is written.
func (c *Client) PullLayout(ctx context.Context, ref, dir string) (ocispec.Descriptor, error) {
	dst, err := oci.NewStorage(dir)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	r, repo, desc, err := c.resolve(ctx, ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if desc.MediaType != ocispec.MediaTypeImageManifest {
		return ocispec.Descriptor{}, fmt.Errorf("pull %s: %s is not an image manifest", ref, desc.MediaType)
	}
	if err := oras.CopyGraph(ctx, repo, dst, desc, c.copyOptions(nil, r, false)); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pull %s: %w", ref, explain(r.Registry, err))
	}
	return ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}, nil
}
