// Package dockerfile is the first stage of kiln's pipeline: it turns a
// Dockerfile into an llb DAG (what to run) plus the OCI image config the
// target stage carries (how to run the result), and hands both to the solver
// and the exporter.
//
// Syntax (lines, continuations, JSON versus shell form, directives such as
// "# escape=") comes from BuildKit's parser package; its types stay inside this
// package. Instruction flags, ARG name=value words and variable expansion are
// participle grammars (flags.go, env.go, expand.go, mount.go). Each
// instruction family has its own file: from.go (FROM, --platform), run.go
// (RUN, heredocs, --network) and mount.go (RUN --mount), copy.go (COPY,
// ADD), env.go (ENV, ARG, LABEL), meta.go (CMD, ENTRYPOINT, USER, WORKDIR,
// EXPOSE) and config.go (SHELL, STOPSIGNAL, HEALTHCHECK, VOLUME,
// MAINTAINER, ONBUILD). image.go holds Image, the config as Docker writes
// it (image-spec has no Healthcheck, OnBuild or Shell).
//
// Where Docker's two builders differ, BuildKit's behaviour is followed,
// with two exceptions said where they are made: a COPY/ADD source that
// climbs out of the context with ".." is an error (as in Docker's classic
// builder) rather than clamped to the context root, and --mount/--from
// may only name earlier stages. Exec forms with invalid JSON fall back to
// the shell form, as in both builders.
//
// Conversion happens in two passes. The first reads every stage, checks every
// instruction and its flags and works out which stages and images each stage
// uses. The second converts only the stages the target needs, so images of
// unused stages are never resolved.
//
// The frontend never touches the image store: it asks an ImageResolver for an
// image's manifest digest and config.
package dockerfile
