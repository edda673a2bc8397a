package checks

import "context"

// PLACEHOLDER: being written; replace this whole file.
var usernsMax = Probe{
	ID:    "userns.max",
	Title: "userns.max",
	Run: func(ctx context.Context, e *Env) Result {
		return Undecided(nil, "not written yet")
	},
}
