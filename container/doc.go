// Package container keeps the record of the containers kiln runs: their
// configuration, their state, their logs and their per-container cgroup,
// each under <root>/containers/<id>/. It is what turns the executor's
// one-shot Run into a runtime with a lifecycle (create, start, stop, rm)
// that outlives any one kiln process, as podman's is: there is no daemon,
// so the truth about a container is reconciled from the pid and the start
// time of its process every time it is read.
//
// The package never starts processes itself; cmd/kiln's supervisor does,
// through the executor, and records what happened here.
package container
