package checks

import "context"

// PLACEHOLDER: being written; replace this whole file.
var netDriver = Probe{
	ID:    "net.driver",
	Title: "net.driver",
	Run: func(ctx context.Context, e *Env) Result {
		return Undecided(nil, "not written yet")
	},
}
