package checks

import "context"

// PLACEHOLDER: being written; replace this whole file.
var sessionSystemd = Probe{
	ID:    "session.systemd",
	Title: "session.systemd",
	Run: func(ctx context.Context, e *Env) Result {
		return Undecided(nil, "not written yet")
	},
}
