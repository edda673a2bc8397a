package checks

import "context"

// PLACEHOLDER: being written; replace this whole file.
var conflictRootful = Probe{
	ID:    "conflict.rootful",
	Title: "conflict.rootful",
	Run: func(ctx context.Context, e *Env) Result {
		return Undecided(nil, "not written yet")
	},
}
