package fixes

import (
	"slices"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// Relogin: log out and in again, so that a new session picks up a change. It is always the
// last step of a plan, never optional (an optional relogin joins the required one), and
// steps that take effect only in a new session (Step.Relogin) ask for it too.
var kindRelogin = kind{
	kind:     finding.Relogin,
	id:       func(finding.Intent) string { return "session.relogin" },
	describe: func(finding.Intent) string { return "log out and log in again" },
	validate: func(finding.Intent) error { return nil },
	// Printed, never run.
	sudo: func(finding.Intent, string, host.Host) error { return nil },
	build: func(b *builder, reqs []Request, _ bool) []Step {
		b.reloginReqs = append(b.reloginReqs, reqs...)
		return nil
	},
}

// relogin builds the last step: log out and in. It is there when a probe asked for it or a
// step only takes effect in a new session (delegation, the D-Bus user session).
func (b *builder) relogin(steps []Step) *Step {
	reqs := b.reloginReqs
	var fromSteps []string
	for _, s := range steps {
		if s.Relogin && !s.Manual {
			fromSteps = append(fromSteps, s.reloginFixes...)
		}
	}
	if len(reqs) == 0 && len(fromSteps) == 0 {
		return nil
	}
	s := newStep("session.relogin", "Log out and log in again (or reboot), so that a new session picks up the changes", reqs)
	s.Fixes = append(s.Fixes, fromSteps...)
	slices.Sort(s.Fixes)
	s.Fixes = slices.Compact(s.Fixes)
	if len(s.Intents) == 0 {
		s.Intents = []string{IntentID(finding.AskRelogin(""))}
	}
	if len(fromSteps) > 0 {
		s.Why = append(s.Why, "systemd starts user@UID.service with the new settings only when the user's last session has ended")
	}
	s.Manual, s.Relogin = true, true
	s.tasks = []Task{debugTask("Log out and log in again (or reboot)", s.Title)}
	return &s
}
