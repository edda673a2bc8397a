package fixes

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// Delegate: delegate cgroup controllers to user@.service with a systemd drop-in.
var kindDelegate = kind{
	kind: finding.Delegate,
	id:   func(finding.Intent) string { return "systemd.delegate" },
	describe: func(in finding.Intent) string {
		return fmt.Sprintf("delegate the cgroup controllers %s to user@.service", strings.Join(in.Controllers, " "))
	},
	validate: func(in finding.Intent) error {
		for _, c := range in.Controllers {
			if !validController(c) {
				return unsafef("cgroup controller %q", c)
			}
		}
		return nil
	},
	sudo: func(in finding.Intent, _ string, _ host.Host) error {
		for _, c := range in.Controllers {
			if !slices.Contains(delegateDefault, c) {
				return fmt.Errorf("no probe delegates the controller %q", c)
			}
		}
		return nil
	},
	build: (*builder).delegate,
}

// delegateDefault are the controllers rootless engines need. systemd delegates only memory
// and pids to user@.service by default (cpu too since 252); cpu, cpuset and io limits fail
// without them (https://rootlesscontaine.rs/getting-started/common/cgroup2/).
var delegateDefault = []string{"cpu", "cpuset", "io", "memory", "pids"}

func (b *builder) delegate(reqs []Request, optional bool) []Step {
	if len(reqs) == 0 {
		return nil
	}
	extra := map[string]bool{}
	for _, r := range reqs {
		for _, c := range r.Intent.Controllers {
			extra[c] = true
		}
	}
	for _, line := range strings.Split(b.readText(DelegateFile), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Delegate="); ok {
			for _, c := range strings.Fields(v) {
				if validController(c) && c != "yes" && c != "no" && c != "true" && c != "false" {
					extra[c] = true
				}
			}
		}
	}
	ctrls := slices.Clone(delegateDefault)
	var more []string
	for c := range extra {
		if !slices.Contains(ctrls, c) {
			more = append(more, c)
		}
	}
	slices.Sort(more)
	ctrls = append(ctrls, more...)
	content := "# Written by `rootless-doctor fix`: delegate the cgroup v2 controllers rootless\n" +
		"# containers need to every user's systemd manager (systemd.resource-control(5)).\n" +
		"[Service]\nDelegate=" + strings.Join(ctrls, " ") + "\n"
	s := newStep("systemd.delegate"+suffix(optional), "Delegate the cgroup controllers "+strings.Join(ctrls, " ")+" to user@.service", reqs)
	s.Files = []File{{Path: DelegateFile, Mode: "0644", Content: content}}
	// daemon-reload needs a running systemd; without one the drop-in is read at next boot.
	s.Commands = []string{"if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi"}
	s.Relogin = true
	s.reloginFixes = s.Fixes
	reload := "Reload systemd"
	s.tasks = filesTasks(s.Files, reload)
	s.handlers = []Task{{Name: reload, Module: "ansible.builtin.command",
		Args: []Arg{{"argv", []string{"systemctl", "daemon-reload"}}, {"removes", "/run/systemd/system"}}}}
	return []Step{s}
}
