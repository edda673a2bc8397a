package checks

import "context"

// PLACEHOLDER: being written; replace this whole file.
var storageDriver = Probe{
	ID:    "storage.driver",
	Title: "storage.driver",
	Run: func(ctx context.Context, e *Env) Result {
		return Undecided(nil, "not written yet")
	},
}
