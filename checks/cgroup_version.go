package checks

import "context"

// PLACEHOLDER: being written; replace this whole file.
var cgroupVersion = Probe{
	ID:    "cgroup.version",
	Title: "cgroup.version",
	Run: func(ctx context.Context, e *Env) Result {
		return Undecided(nil, "not written yet")
	},
}
