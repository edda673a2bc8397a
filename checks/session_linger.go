package checks

import "context"

// PLACEHOLDER: being written; replace this whole file.
var sessionLinger = Probe{
	ID:    "session.linger",
	Title: "session.linger",
	Run: func(ctx context.Context, e *Env) Result {
		return Undecided(nil, "not written yet")
	},
}
