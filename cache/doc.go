// Package cache is kiln's on-disk store, the place every other stage of the
// pipeline reads from and writes to.
//
// The solver asks it for cache records (cache key → layer chain) and for
// checksums of build-context files (so COPY is keyed by content); the
// executor mounts the extracted layer directories it holds; the exporter
// writes blobs, manifests and tags into its OCI image layout. Nothing in here
// knows about Dockerfile syntax or terminals.
//
// Layout under the root:
//
//	oci/                 an OCI image layout (oci-layout, index.json, blobs/sha256/)
//	layers/<chain-id>/   diff/ (an overlay lowerdir) and meta.json
//	cache/<key>.json     cache records
//	contexts/<hash>.json stat caches of build contexts
//	mounts/              RUN --mount=type=cache directories
//	history/<id>.json    per (context, Dockerfile, target): the last build's
//	                     step keys and inputs, for `kiln build --explain`
//	history/files/       COPY selections by checksum, to name changed files
//	locks/<key>.lock     held while a step runs, so concurrent builds run it once
//	origins/<blob hex>   registry repositories the blob is known to be in (push mounts)
//	config.toml          settings (gc-keep-storage = "10GB"); see Config
//	containers/          containers of `kiln run`
//	tmp/<session>/       one per open Store; everything is written here first
//	lock                 shared by every open Store, exclusive for GC (Prune)
//	index.lock           serialises read-modify-write of oci/index.json
//
// Every write is atomic: it is made under the Store's session directory,
// synced, and renamed into place, so two builds sharing one store both
// succeed and a crash never leaves a half-written object behind. A session
// directory whose owner died is removed by the next Open.
package cache
