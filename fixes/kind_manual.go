package fixes

import (
	"fmt"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// Manual: a change no script can make safely (move a data root off NFS, upgrade a kernel);
// the intent's Reason says what to do, and the step is printed, never run.
var kindManual = kind{
	kind:     finding.Manual,
	id:       func(in finding.Intent) string { return "manual." + in.Name },
	describe: func(in finding.Intent) string { return in.Reason },
	validate: func(in finding.Intent) error {
		if !validName(in.Name) {
			return unsafef("manual step name %q", in.Name)
		}
		if in.Reason == "" {
			return fmt.Errorf("%w: manual step %q says nothing to do", ErrInvalid, in.Name)
		}
		return nil
	},
	// Printed, never run.
	sudo:  func(finding.Intent, string, host.Host) error { return nil },
	build: func(b *builder, reqs []Request, _ bool) []Step { return b.manual(reqs) },
}

func (b *builder) manual(reqs []Request) []Step {
	ids, byID := byField(reqs, func(r Request) string { return IntentID(r.Intent) })
	var steps []Step
	for _, id := range ids {
		rs := byID[id]
		s := newStep(id, rs[0].Intent.Reason, rs)
		// The title already says what to do; the reasons would only repeat it.
		s.Why = nil
		for _, r := range rs[1:] {
			if r.Intent.Reason != s.Title {
				s.Why = append(s.Why, r.Intent.Reason+" ("+r.ProbeID+")")
			}
		}
		s.Manual = true
		s.tasks = []Task{debugTask("Do by hand", s.Title)}
		steps = append(steps, s)
	}
	return steps
}
