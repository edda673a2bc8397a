package checks

import "context"

// PLACEHOLDER: being written; replace this whole file.
var sessionXDGRuntimeDir = Probe{
	ID:    "session.xdg-runtime-dir",
	Title: "session.xdg-runtime-dir",
	Run: func(ctx context.Context, e *Env) Result {
		return Undecided(nil, "not written yet")
	},
}
