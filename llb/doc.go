// Package llb is the build graph: typed operations, the DAG that connects
// them, a canonical encoding and the digests derived from it, and a readable
// text dump.
//
// It is the hand-off between the frontend (which turns a Dockerfile into a
// DAG) and the solver (which runs it). It is plain data: no I/O, no knowledge
// of Dockerfiles or of the filesystem.
package llb
