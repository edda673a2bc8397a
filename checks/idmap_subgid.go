package checks

import "context"

// PLACEHOLDER: being written; replace this whole file.
var idmapSubgid = Probe{
	ID:    "idmap.subgid",
	Title: "idmap.subgid",
	Run: func(ctx context.Context, e *Env) Result {
		return Undecided(nil, "not written yet")
	},
}
