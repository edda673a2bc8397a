package checks

import "context"

// PLACEHOLDER: being written; replace this whole file.
var sessionDBus = Probe{
	ID:    "session.dbus",
	Title: "session.dbus",
	Run: func(ctx context.Context, e *Env) Result {
		return Undecided(nil, "not written yet")
	},
}
