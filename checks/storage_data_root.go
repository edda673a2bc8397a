package checks

import "context"

// PLACEHOLDER: being written; replace this whole file.
var storageDataRoot = Probe{
	ID:    "storage.data-root",
	Title: "storage.data-root",
	Run: func(ctx context.Context, e *Env) Result {
		return Undecided(nil, "not written yet")
	},
}
