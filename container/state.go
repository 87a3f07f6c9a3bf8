package container

import "time"

// KilledCode is the exit code recorded for a container whose process and
// supervisor both vanished without recording one: the executor's init dies
// by SIGKILL with its supervisor, so that is what happened.
const KilledCode = 128 + 9

// reconcile corrects a recorded state with what is true now: a process
// recorded as running that is gone (or whose pid now names another process)
// has exited, and a running one in a frozen cgroup is paused.
func (c *Container) reconcile() {
	st := &c.State
	c.pending = false
	switch st.Status {
	case Running, Paused, Restarting:
	default:
		return
	}
	if st.Status != Restarting && Alive(st.Pid, st.StartTime) {
		st.Status = Running
		if frozen, _ := Frozen(c.Config.ID); frozen {
			st.Status = Paused
		}
		return
	}
	if c.SupervisorAlive() {
		// Between an exit and its record, or between restarts: the
		// supervisor is about to say which.
		if st.Status != Restarting {
			st.Status = Exited
		}
		c.pending = true
		return
	}
	st.Status = Exited
	// Nobody else will: the supervisor that would have is gone.
	_ = RemoveCgroup(c.Config.ID)
	st.ExitCode = KilledCode
	if st.Error == "" {
		st.Error = "the supervisor died without recording an exit"
	}
}

// SupervisorAlive reports whether the container's supervisor still runs.
func (c *Container) SupervisorAlive() bool {
	return Alive(c.State.SupervisorPid, c.State.SupervisorStart)
}

// IsRunning says whether the container has a live process (paused counts).
func (c *Container) IsRunning() bool {
	return c.State.Status == Running || c.State.Status == Paused
}

// Uptime is how long the container's process has run.
func (c *Container) Uptime(now time.Time) time.Duration {
	return now.Sub(c.State.StartedAt)
}

// Settled reports a container with no process whose state is final: its
// exit is recorded (or nobody is left to record it).
func (c *Container) Settled() bool {
	return !c.pending && (c.State.Status == Exited || c.State.Status == Created)
}
