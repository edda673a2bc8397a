package checks

import "context"

// PLACEHOLDER: being written; replace this whole file.
var mountPropagation = Probe{
	ID:    "mount.propagation",
	Title: "mount.propagation",
	Run: func(ctx context.Context, e *Env) Result {
		return Undecided(nil, "not written yet")
	},
}
