// Package dockerfile is the first stage of kiln's pipeline: it turns a
// Dockerfile into an llb DAG (what to run) plus the OCI image config the
// target stage carries (how to run the result), and hands both to the solver
// and the exporter.
//
// Syntax (lines, continuations, JSON versus shell form, directives such as
// "# escape=") comes from BuildKit's parser package; its types stay inside this
// package. Instruction flags, ARG name=value words and variable expansion are
// participle grammars (flags.go, env.go, expand.go). Each instruction family
// has its own file: from.go, run.go, copy.go, env.go (ENV, ARG, LABEL) and
// meta.go (CMD, ENTRYPOINT, USER, WORKDIR, EXPOSE).
//
// Conversion happens in two passes. The first reads every stage, checks every
// instruction and its flags and works out which stages and images each stage
// uses. The second converts only the stages the target needs, so images of
// unused stages are never resolved.
//
// The frontend never touches the image store: it asks an ImageResolver for an
// image's manifest digest and config.
package dockerfile
