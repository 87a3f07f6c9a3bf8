package main

import (
	"context"
	"encoding/json"
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
	"github.com/kiln-build/kiln/exporter/registry"
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
	outputs   []string
	pull      string
	secrets   []string
	cache     cacheFlags
	limits    limitFlags // for every RUN
	debug     debugFlags
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
	fl.StringArrayVarP(&f.outputs, "output", "o", nil, "output (type=oci|docker|local|tar|image,dest=PATH,…; see buildx); repeatable")
	fl.StringVar(&f.pull, "pull", "missing", "pull FROM images: always, missing or never")
	fl.Lookup("pull").NoOptDefVal = "always"
	addLimitFlags(fl, &f.limits)
	fl.StringArrayVar(&f.secrets, "secret", nil, "secret for RUN --mount=type=secret (id=ID,src=PATH or id=ID,env=VAR); repeatable")
	addCacheFlags(fl, &f.cache)
	f.cache.client = g.registryClient
	addDebugFlags(fl, &f.debug)
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
	if err := f.debug.check(); err != nil {
		return err
	}
	if f.quiet {
		f.progress = "quiet"
	}
	switch f.progress {
	case "auto", "plain", "tty", "quiet":
	default:
		return fmt.Errorf("--progress: %q is not one of auto, plain, tty, quiet", f.progress)
	}
	network, err := networkMode(f.network)
	if err != nil {
		return err
	}
	limits, err := f.limits.parse()
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
	outputs, err := parseOutputs(f.outputs)
	if err != nil {
		return err
	}
	if f.pull != "always" && f.pull != "missing" && f.pull != "never" {
		return fmt.Errorf("--pull: %q is not one of always, missing, never", f.pull)
	}
	epoch, err := sourceDateEpoch(args)
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
		Resolver:  resolver{store: store, g: g, pull: f.pull, quiet: f.progress == "quiet"},
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
		ContextDir:      contextDir,
		NoCache:         f.noCache,
		Sink:            prog.event,
		SourceDateEpoch: epoch,
		Secrets:         secrets,
		Explain:         cb.explainer,
		Limits:          limits,
		KeepFailed:      f.debug.keep(),
	})
	prog.close()
	if err != nil {
		return f.debug.after(ctx, store, err)
	}
	if err := cb.finish(ctx, prog, layers); err != nil {
		return err
	}
	if epoch != nil {
		applyEpoch(&res.Image, *epoch)
	}
	desc, err := exporter.WriteImage(ctx, store, res.Image, layers, dockerFields(res.Config.Config))
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
	if err := g.export(ctx, store, desc, outputs, tags); err != nil {
		return err
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

func networkMode(s string) (string, error) {
	switch s {
	case "default":
		return llb.NetworkDefault, nil
	case "host":
		return llb.NetworkHost, nil
	case "none":
		return llb.NetworkNone, nil
	}
	return "", fmt.Errorf("--network: %q is not one of default, none, host", s)
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
// With pull "always" or "missing" (and the image absent) it pulls.
type resolver struct {
	store *cache.Store
	g     *globals
	pull  string
	quiet bool
}

func (r resolver) ResolveImage(ctx context.Context, ref string) (digest.Digest, ocispec.Image, error) {
	dgst, img, err := r.ResolveConfig(ctx, ref)
	return dgst, img.OCI(), err
}

// ResolveConfig returns the whole config, Docker's fields (ONBUILD,
// HEALTHCHECK, SHELL) included, so FROM can run a base image's triggers.
func (r resolver) ResolveConfig(ctx context.Context, ref string) (digest.Digest, dockerfile.Image, error) {
	var img dockerfile.Image
	desc, err := r.store.Resolve(ref)
	if r.pull == "always" || r.pull == "missing" && errors.Is(err, cache.ErrNotFound) {
		desc, err = r.pullImage(ctx, ref)
	}
	if errors.Is(err, cache.ErrNotFound) {
		return "", img, fmt.Errorf("%w: %w (--pull=never)", dockerfile.ErrImageNotFound, err)
	}
	if err != nil {
		return "", img, err
	}
	raw, err := rawConfig(ctx, r.store, desc.Digest)
	if err != nil {
		return "", img, err
	}
	if err := json.Unmarshal(raw, &img); err != nil {
		return "", img, fmt.Errorf("image %s: config: %w", ref, err)
	}
	return desc.Digest, img, nil
}

// rawConfig returns an image's config blob as stored, with every field
// image-spec does not know about.
func rawConfig(ctx context.Context, store *cache.Store, manifest digest.Digest) ([]byte, error) {
	m, _, err := exporter.ReadImage(ctx, store, manifest)
	if err != nil {
		return nil, err
	}
	return store.ReadBlob(m.Config.Digest)
}

// dockerFields are the config fields image-spec has no place for, to be
// stored beside the OCI ones as Docker does.
func dockerFields(c dockerfile.ImageConfig) exporter.ImageOption {
	fields := map[string]any{}
	if c.Healthcheck != nil {
		fields["Healthcheck"] = c.Healthcheck
	}
	if len(c.OnBuild) > 0 {
		fields["OnBuild"] = c.OnBuild
	}
	if len(c.Shell) > 0 {
		fields["Shell"] = c.Shell
	}
	return exporter.WithConfigFields(fields)
}

func (r resolver) pullImage(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	var progress io.Writer = os.Stderr
	if r.quiet {
		progress = nil
	}
	desc, err := r.g.pullImage(ctx, r.store, ref, progress)
	if errors.Is(err, registry.ErrNotFound) {
		return desc, fmt.Errorf("%w: %w", dockerfile.ErrImageNotFound, err)
	}
	return desc, err
}
