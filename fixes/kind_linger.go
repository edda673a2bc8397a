package fixes

import (
	"fmt"
	"slices"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// Linger: enable logind lingering for an account, so its user manager outlives its sessions.
var kindLinger = kind{
	kind: finding.Linger,
	id:   func(finding.Intent) string { return "linger.enable" },
	describe: func(in finding.Intent) string {
		return fmt.Sprintf("enable lingering for %s (loginctl enable-linger)", in.User)
	},
	validate: func(in finding.Intent) error { return checkUser(in.User) },
	sudo: func(in finding.Intent, account string, _ host.Host) error {
		if in.User != account {
			return fmt.Errorf("lingering for %q: an account may ask only for its own (%s)", in.User, account)
		}
		return nil
	},
	build: (*builder).linger,
}

func (b *builder) linger(reqs []Request, optional bool) []Step {
	if len(reqs) == 0 {
		return nil
	}
	users, _ := byField(reqs, func(r Request) string { return r.Intent.User })
	slices.Sort(users)
	s := newStep("linger.enable"+suffix(optional), "Keep the user manager of "+joinAnd(users)+" running after logout (linger)", reqs)
	for _, u := range users {
		flag := "/var/lib/systemd/linger/" + u
		s.Commands = append(s.Commands, fmt.Sprintf("[ -e %s ] || loginctl enable-linger %s", ShellQuote(flag), ShellQuote(u)))
		ref := b.userRef(u)
		s.tasks = append(s.tasks, Task{Name: "Enable linger for " + ref, Module: "ansible.builtin.command",
			Args: []Arg{{"argv", []string{"loginctl", "enable-linger", ref}}, {"creates", "/var/lib/systemd/linger/" + ref}}})
	}
	return []Step{s}
}
