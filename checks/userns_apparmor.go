package checks

import "context"

// PLACEHOLDER: being written; replace this whole file.
var usernsAppArmor = Probe{
	ID:    "userns.apparmor",
	Title: "userns.apparmor",
	Run: func(ctx context.Context, e *Env) Result {
		return Undecided(nil, "not written yet")
	},
}
