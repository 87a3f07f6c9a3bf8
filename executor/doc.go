// Package executor is the stage of the pipeline that runs things: it executes
// a RUN step's process, or performs a COPY, over a stack of layer directories
// mounted with overlayfs, and hands back the upper directory, which is the new
// layer, to the solver.
//
// Every mount happens in a child process with its own mount namespace (kiln
// re-executed as a hidden init, see MaybeInit), so no mount outlives the
// process: a crash or kill -9 of kiln leaves nothing mounted on the host.
package executor
