// Package executor is the stage of the pipeline that runs things: it executes
// a RUN step's process, or performs a COPY, over a stack of layer directories
// mounted with overlayfs, and hands back the upper directory, which is the new
// layer, to the solver.
//
// Every mount happens in a child process with its own mount namespace (kiln
// re-executed as a hidden init, see MaybeInit), so no mount outlives the
// process: a crash or kill -9 of kiln leaves nothing mounted on the host.
// (The one mount the parent makes, the overlay its init is started from, is
// never attached anywhere and goes away with its file descriptor.)
//
// Confinement (Security; Docker's defaults unless asked otherwise): the
// init starts from a copy of kiln no write can reach: the binary through a
// private read-only overlay, or a sealed memfd (sealed_linux.go), mounts
// targets by handle inside the rootfs (target_linux.go), masks and
// read-only-binds runc's /proc and /sys paths (masked_linux.go), joins a
// devices cgroup or mounts the rootfs nodev (devices_linux.go), then drops
// to Docker's capability set and installs a seccomp filter with Docker's
// denylist effect (caps_linux.go, seccomp_linux.go) before it execs.
package executor
