package checks

import "context"

// PLACEHOLDER: being written; replace this whole file.
var cgroupDelegation = Probe{
	ID:    "cgroup.delegation",
	Title: "cgroup.delegation",
	Run: func(ctx context.Context, e *Env) Result {
		return Undecided(nil, "not written yet")
	},
}
