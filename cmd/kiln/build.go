package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/moby/patternmatcher/ignorefile"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/cache"
	"github.com/kiln-build/kiln/executor"
	"github.com/kiln-build/kiln/exporter"
	"github.com/kiln-build/kiln/frontend/dockerfile"
	"github.com/kiln-build/kiln/llb"
	"github.com/kiln-build/kiln/solver"
)

type buildFlags struct {
	file      string
	tags      []string
	buildArgs []string
	target    string
	noCache   bool
	progress  string
	quiet     bool
	network   string
	iidfile   string
	printLLB  bool
	secrets   []string
	cache     cacheFlags
}

func newBuildCommand(g *globals) *cobra.Command {
	var f buildFlags
	c := &cobra.Command{
		Use:   "build [OPTIONS] CONTEXT",
		Short: "Build an image from a Dockerfile",
		Args:  exactArgs(1, "CONTEXT"),
		RunE: func(c *cobra.Command, args []string) error {
			return runBuild(c.Context(), g, &f, args[0])
		},
	}
	fl := c.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "name of the Dockerfile (default: CONTEXT/Dockerfile; - for stdin)")
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, "name and optionally a tag (NAME[:TAG]); repeatable")
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "set a build-time variable (K=V, or K to take it from the environment); repeatable")
	fl.StringVar(&f.target, "target", "", "build this stage")
	fl.BoolVar(&f.noCache, "no-cache", false, "do not use the cache")
	fl.StringVar(&f.progress, "progress", "auto", "progress output: auto, plain, tty or quiet")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the image ID")
	fl.StringVar(&f.network, "network", "default", "network for RUN steps: default, none or host")
	fl.StringVar(&f.iidfile, "iidfile", "", "write the image ID to this file")
	fl.BoolVar(&f.printLLB, "print-llb", false, "print the build graph and exit")
	fl.StringArrayVar(&f.secrets, "secret", nil, "secret for RUN --mount=type=secret (id=ID,src=PATH or id=ID,env=VAR); repeatable")
	addCacheFlags(fl, &f.cache)
	return c
}

func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%s: takes %s (got %d arguments; see '%s --help')", c.CommandPath(), names, len(args), c.CommandPath())
		}
		return nil
	}
}

func runBuild(ctx context.Context, g *globals, f *buildFlags, contextDir string) error {
	if f.quiet {
		f.progress = "quiet"
	}
	switch f.progress {
	case "auto", "plain", "tty", "quiet":
	default:
		return fmt.Errorf("--progress: %q is not one of auto, plain, tty, quiet", f.progress)
	}
	network, err := networkMode(f.network, true)
	if err != nil {
		return err
	}
	tags := make([]string, len(f.tags))
	for i, t := range f.tags {
		if tags[i], err = cache.NormalizeRef(t); err != nil {
			return fmt.Errorf("-t %s: %w", t, err)
		}
	}
	args, err := parseBuildArgs(f.buildArgs)
	if err != nil {
		return err
	}
	secrets, err := parseSecrets(f.secrets, os.LookupEnv)
	if err != nil {
		return err
	}
	st, err := os.Stat(contextDir)
	if err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("build context %q is not a directory", contextDir)
	}
	if contextDir, err = filepath.Abs(contextDir); err != nil {
		return err
	}
	name, src, ignorePath, err := readDockerfile(f.file, contextDir)
	if err != nil {
		return err
	}
	excludes, err := readIgnore(ignorePath, filepath.Join(contextDir, ".dockerignore"))
	if err != nil {
		return err
	}

	store, err := g.open()
	if err != nil {
		return err
	}
	defer store.Close()

	res, err := dockerfile.Convert(ctx, src, dockerfile.Options{
		File:      name,
		Target:    f.target,
		BuildArgs: args,
		Excludes:  excludes,
		Network:   network,
		Resolver:  resolver{store},
	})
	if err != nil {
		return err
	}
	if f.printLLB {
		if res.Root == nil {
			_, err := fmt.Println("# empty filesystem (scratch)")
			return err
		}
		return llb.Dump(os.Stdout, res.Root)
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	prog := newProgress(f.progress, os.Stderr)
	prog.explain = f.cache.explain
	cb, err := startCacheBuild(ctx, store, &f.cache, contextDir, f.file, f.target)
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		prog.warn(w)
	}
	layers, err := solver.New(store, executor.New(executor.WithTempDir(store.TempDir))).Solve(ctx, res.Root, solver.Options{
		ContextDir: contextDir,
		NoCache:    f.noCache,
		Sink:       prog.event,
		Secrets:    secrets,
		Explain:    cb.explainer,
	})
	prog.close()
	if err != nil {
		return err
	}
	if err := cb.finish(ctx, prog, layers); err != nil {
		return err
	}
	desc, err := exporter.WriteImage(ctx, store, res.Image, layers)
	if err != nil {
		return fmt.Errorf("export image: %w", err)
	}
	id, err := imageID(ctx, store, desc.Digest)
	if err != nil {
		return err
	}
	if len(tags) == 0 {
		// An untagged image stays in the index, findable by its ID, as
		// Docker keeps dangling images.
		if err := store.Keep(desc); err != nil {
			return err
		}
	}
	for _, t := range tags {
		if err := store.Tag(t, desc); err != nil {
			return fmt.Errorf("tag %s: %w", t, err)
		}
	}
	if f.iidfile != "" {
		if err := os.WriteFile(f.iidfile, []byte(id.String()), 0o644); err != nil {
			return fmt.Errorf("--iidfile: %w", err)
		}
	}
	if f.progress == "quiet" {
		fmt.Println(id)
	} else {
		prog.summary(id, tags)
	}
	return nil
}

// imageID is Docker's image ID: the digest of the config.
func imageID(ctx context.Context, store *cache.Store, manifest digest.Digest) (digest.Digest, error) {
	m, _, err := exporter.ReadImage(ctx, store, manifest)
	if err != nil {
		return "", err
	}
	return m.Config.Digest, nil
}

func networkMode(s string, build bool) (string, error) {
	switch s {
	case "default":
		return llb.NetworkDefault, nil
	case "host":
		return llb.NetworkHost, nil
	case "none":
		return llb.NetworkNone, nil
	}
	if build {
		return "", fmt.Errorf("--network: %q is not one of default, none, host", s)
	}
	return "", fmt.Errorf("--network: %q is not one of host, none (bridge networks are not supported yet)", s)
}

func parseBuildArgs(list []string) (map[string]string, error) {
	args := map[string]string{}
	for _, a := range list {
		k, v, ok := strings.Cut(a, "=")
		if k == "" {
			return nil, fmt.Errorf("--build-arg %q: want KEY=VALUE", a)
		}
		if !ok {
			// Docker takes a bare name from the environment, and skips it
			// when unset.
			if v, ok = os.LookupEnv(k); !ok {
				continue
			}
		}
		args[k] = v
	}
	return args, nil
}

// readDockerfile returns the Dockerfile's display name, its content, and
// where a Dockerfile-specific ignore file would be.
func readDockerfile(file, contextDir string) (name string, src []byte, ignore string, err error) {
	if file == "-" {
		src, err = io.ReadAll(os.Stdin)
		if err != nil {
			return "", nil, "", fmt.Errorf("-f -: %w", err)
		}
		return "Dockerfile", src, "", nil
	}
	if file == "" {
		file = filepath.Join(contextDir, "Dockerfile")
	}
	src, err = os.ReadFile(file)
	if err != nil {
		if os.IsNotExist(err) {
			return "", nil, "", fmt.Errorf("-f: Dockerfile %q not found", file)
		}
		return "", nil, "", fmt.Errorf("-f: %w", err)
	}
	return filepath.Base(file), src, file + ".dockerignore", nil
}

// readIgnore reads the first ignore file that exists: the Dockerfile's own
// (Dockerfile.dockerignore beside it), then the context's .dockerignore.
func readIgnore(paths ...string) ([]string, error) {
	for _, p := range paths {
		if p == "" {
			continue
		}
		fh, err := os.Open(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		patterns, err := ignorefile.ReadAll(fh)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(p), err)
		}
		return patterns, nil
	}
	return nil, nil
}

// resolver lets the frontend find images in the store.
type resolver struct{ store *cache.Store }

func (r resolver) ResolveImage(ctx context.Context, ref string) (digest.Digest, ocispec.Image, error) {
	desc, err := r.store.Resolve(ref)
	if errors.Is(err, cache.ErrNotFound) {
		return "", ocispec.Image{}, fmt.Errorf("%w: %w (kiln cannot pull from registries yet)", dockerfile.ErrImageNotFound, err)
	}
	if err != nil {
		return "", ocispec.Image{}, err
	}
	_, img, err := exporter.ReadImage(ctx, r.store, desc.Digest)
	if err != nil {
		return "", ocispec.Image{}, err
	}
	return desc.Digest, img, nil
}
