package fixes

import "github.com/rootless-doctor/rootless-doctor/finding"

// RequestsFrom turns the intents of failing and warning results into planner requests. Passing
// and skipped results ask for nothing even if a probe attached an intent.
func RequestsFrom(results []finding.Result) []Request {
	var reqs []Request
	for _, r := range results {
		if r.Status != finding.Fail && r.Status != finding.Warn {
			continue
		}
		for _, in := range r.Intents {
			reqs = append(reqs, Request{ProbeID: r.ID, Intent: in})
		}
	}
	return reqs
}
