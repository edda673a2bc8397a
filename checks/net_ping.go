package checks

import "context"

// PLACEHOLDER: being written; replace this whole file.
var netPing = Probe{
	ID:    "net.ping",
	Title: "net.ping",
	Run: func(ctx context.Context, e *Env) Result {
		return Undecided(nil, "not written yet")
	},
}
