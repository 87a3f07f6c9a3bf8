package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/exporter"
)

// output is one -o/--output of kiln build, in buildx's syntax:
// type=oci|docker|local|tar|image with dest, name, push, tar,
// compression and compression-level.
type output struct {
	spec  string // as written, for errors
	typ   string
	dest  string
	names []string
	push  bool
	tar   bool
	comp  exporter.Compression
	level int
}

func parseOutputs(specs []string) ([]output, error) {
	var outs []output
	for _, s := range specs {
		o, err := parseOutput(s)
		if err != nil {
			return nil, fmt.Errorf("--output %q: %w", s, err)
		}
		outs = append(outs, o)
	}
	return outs, nil
}

func parseOutput(s string) (output, error) {
	o := output{spec: s, tar: true}
	if !strings.Contains(s, "=") {
		// buildx's shorthands: "-" is a tar on stdout, a path a local dir.
		if s == "-" {
			o.typ, o.dest = "tar", "-"
		} else {
			o.typ, o.dest = "local", s
		}
		return o, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return o, fmt.Errorf("%q: want KEY=VALUE", kv)
		}
		var err error
		switch strings.TrimSpace(k) {
		case "type":
			o.typ = v
		case "dest":
			o.dest = v
		case "name":
			o.names = append(o.names, v)
		case "push":
			o.push, err = strconv.ParseBool(v)
		case "tar":
			o.tar, err = strconv.ParseBool(v)
		case "compression":
			o.comp, err = exporter.ParseCompression(v)
		case "compression-level":
			o.level, err = strconv.Atoi(v)
		case "force-compression", "oci-mediatypes":
			// kiln always writes OCI media types, and recompresses whenever
			// a compression is asked for.
		default:
			return o, fmt.Errorf("unknown key %q (want type, dest, name, push, tar, compression, compression-level)", k)
		}
		if err != nil {
			return o, fmt.Errorf("%s: %w", k, err)
		}
	}
	switch o.typ {
	case "oci", "docker", "local", "tar":
		if o.dest == "" {
			return o, fmt.Errorf("type=%s needs dest=PATH", o.typ)
		}
	case "image", "registry":
		if o.typ == "registry" {
			o.typ, o.push = "image", true
		}
	case "":
		return o, fmt.Errorf("type is missing (want oci, docker, local, tar, image)")
	default:
		return o, fmt.Errorf("unknown type %q (want oci, docker, local, tar, image)", o.typ)
	}
	for i, n := range o.names {
		name, err := cache.NormalizeRef(n)
		if err != nil {
			return o, fmt.Errorf("name: %w", err)
		}
		o.names[i] = name
	}
	return o, nil
}

// export writes the image with manifest desc to every output. tags are the
// -t names, used where an output names no image itself.
func (g *globals) export(ctx context.Context, store *cache.Store, desc ocispec.Descriptor, outs []output, tags []string) error {
	for _, o := range outs {
		names := o.names
		if len(names) == 0 {
			names = tags
		}
		imgs := []exporter.NamedImage{{Manifest: desc.Digest, Names: names}}
		tmp, err := store.TempDir("output-")
		if err != nil {
			return err
		}
		opt := exporter.ArchiveOptions{Compression: o.comp, Level: o.level, TempDir: tmp}
		switch o.typ {
		case "oci":
			if o.tar {
				err = writeOut(o.dest, "--output", func(w io.Writer) error {
					return exporter.WriteOCI(ctx, store, w, "", imgs, opt)
				})
			} else {
				err = exporter.WriteOCI(ctx, store, nil, o.dest, imgs, opt)
			}
		case "docker":
			err = writeOut(o.dest, "--output", func(w io.Writer) error {
				return exporter.WriteDockerArchive(ctx, store, w, imgs, opt)
			})
		case "local":
			err = exporter.WriteRootfs(ctx, store, desc.Digest, o.dest)
		case "tar":
			err = writeOut(o.dest, "--output", func(w io.Writer) error {
				return exporter.WriteRootfsTar(ctx, store, desc.Digest, w, tmp)
			})
		case "image":
			if len(names) == 0 {
				err = fmt.Errorf("type=image needs name=REF or -t")
				break
			}
			for _, n := range names {
				if err = store.Tag(n, desc); err != nil {
					break
				}
				if o.push {
					if err = g.push(ctx, store, desc, n); err != nil {
						break
					}
				}
			}
		}
		os.RemoveAll(tmp)
		if err != nil {
			return fmt.Errorf("--output %q: %w", o.spec, err)
		}
	}
	return nil
}

func (g *globals) push(ctx context.Context, store *cache.Store, desc ocispec.Descriptor, ref string) error {
	rc, err := g.registryClient(os.Stderr)
	if err != nil {
		return err
	}
	return rc.Push(ctx, store, desc, ref)
}

// sourceDateEpoch reads SOURCE_DATE_EPOCH from the build args, else the
// environment; nil when unset.
func sourceDateEpoch(args map[string]string) (*time.Time, error) {
	v, ok := args["SOURCE_DATE_EPOCH"]
	if !ok {
		v, ok = os.LookupEnv("SOURCE_DATE_EPOCH")
	}
	if !ok || v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("SOURCE_DATE_EPOCH: %q is not a number of seconds since 1970", v)
	}
	t := time.Unix(n, 0).UTC()
	return &t, nil
}

// applyEpoch sets the image's created time and every history time to t,
// so that the config does not depend on when the layers were made.
func applyEpoch(img *ocispec.Image, t time.Time) {
	img.Created = &t
	h := make([]ocispec.History, len(img.History))
	copy(h, img.History)
	for i := range h {
		h[i].Created = &t
	}
	img.History = h
}
