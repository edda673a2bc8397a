package checks

import "context"

// PLACEHOLDER: being written; replace this whole file.
var netIptables = Probe{
	ID:    "net.iptables",
	Title: "net.iptables",
	Run: func(ctx context.Context, e *Env) Result {
		return Undecided(nil, "not written yet")
	},
}
