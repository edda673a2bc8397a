package checks

import "context"

// PLACEHOLDER: being written; replace this whole file.
var idmapNewuidmap = Probe{
	ID:    "idmap.newuidmap",
	Title: "idmap.newuidmap",
	Run: func(ctx context.Context, e *Env) Result {
		return Undecided(nil, "not written yet")
	},
}
