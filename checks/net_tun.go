package checks

import "context"

// PLACEHOLDER: being written; replace this whole file.
var netTun = Probe{
	ID:    "net.tun",
	Title: "net.tun",
	Run: func(ctx context.Context, e *Env) Result {
		return Undecided(nil, "not written yet")
	},
}
