package checks

import "context"

// PLACEHOLDER: being written; replace this whole file.
var kernelVersion = Probe{
	ID:    "kernel.version",
	Title: "kernel.version",
	Run: func(ctx context.Context, e *Env) Result {
		return Undecided(nil, "not written yet")
	},
}
