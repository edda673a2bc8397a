package fixes

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// Sysctl: set a sysctl now and at boot, in the plan's own sysctl.d file, and say which files
// read later at boot would undo it.
var kindSysctl = kind{
	kind: finding.Sysctl,
	id:   func(in finding.Intent) string { return "sysctl." + in.Key },
	describe: func(in finding.Intent) string {
		return fmt.Sprintf("set sysctl %s=%s now and at boot", in.Key, in.Value)
	},
	validate: func(in finding.Intent) error { return checkSysctl(in.Key, in.Value) },
	sudo: func(in finding.Intent, _ string, _ host.Host) error {
		if v, ok := sudoSysctls[in.Key]; !ok || v != in.Value {
			return fmt.Errorf("no probe sets %s=%s", in.Key, in.Value)
		}
		return nil
	},
	build: (*builder).sysctls,
}

// sudoSysctls are the sysctls, and the only value of each, that probes ask for: the user
// namespace switches (userns.clone, userns.max and the live proof's explanations), the
// optional ping and port ranges (net.ping, net.privileged-ports), and the per-uid quotas of
// keys (limits.keys) and inotify (limits.inotify), which only raise a limit.
var sudoSysctls = map[string]string{
	"kernel.unprivileged_userns_clone":    "1",
	"user.max_user_namespaces":            "28633",
	"net.ipv4.ping_group_range":           "0 2147483647",
	"net.ipv4.ip_unprivileged_port_start": "0",
	"kernel.keys.maxkeys":                 "20000",
	"kernel.keys.maxbytes":                "2000000",
	"fs.inotify.max_user_instances":       "8192",
	"fs.inotify.max_user_watches":         "524288",
}

func (b *builder) sysctls(reqs []Request, optional bool) []Step {
	if len(reqs) == 0 {
		return nil
	}
	file := SysctlFile
	if optional {
		file = OptionalSysctlFile
	}
	keys, byKey := byField(reqs, func(r Request) string { return r.Intent.Key })
	values := map[string]string{}
	var notes []string
	for _, k := range keys {
		rs := byKey[k]
		values[k] = rs[0].Intent.Value
		for _, r := range rs[1:] {
			if r.Intent.Value != values[k] {
				notes = append(notes, fmt.Sprintf("%s asked for %s = %s; %s asked for %s, which is kept", r.ProbeID, k, r.Intent.Value, rs[0].ProbeID, values[k]))
			}
		}
	}
	// Keep what an earlier run wrote for other keys: the file is ours, and dropping a key
	// would undo that fix at the next boot.
	all := map[string]string{}
	for _, a := range parse.ParseSysctlConf([]byte(b.readText(file))).Assignments {
		if checkSysctl(a.Key, a.Value) == nil {
			all[a.Key] = a.Value
		}
	}
	for k, v := range values {
		all[k] = v
	}
	allKeys := make([]string, 0, len(all))
	for k := range all {
		allKeys = append(allKeys, k)
	}
	slices.Sort(allKeys)
	var content strings.Builder
	content.WriteString("# Kernel settings for rootless containers (sysctl.d(5)). Written by\n" +
		"# `rootless-doctor fix`, which keeps what an earlier run put here.\n")
	for _, k := range allKeys {
		fmt.Fprintf(&content, "%s = %s\n", k, all[k])
	}
	var title string
	if len(keys) == 1 {
		title = fmt.Sprintf("Set %s = %s now and at boot", keys[0], values[keys[0]])
	} else {
		title = "Set the sysctls " + joinAnd(keys) + " now and at boot"
	}
	s := newStep("sysctl"+suffix(optional), title, reqs)
	s.Why = append(s.Why, notes...)
	s.Files = []File{{Path: file, Mode: "0644", Content: content.String()}}
	s.Commands = []string{"sysctl -p " + ShellQuote(file)}
	// The file task notifies the reload: a second run changes nothing and reloads nothing.
	reload := "Apply " + file
	s.tasks = filesTasks(s.Files, reload)
	s.handlers = []Task{{Name: reload, Module: "ansible.builtin.command", Args: []Arg{{"argv", []string{"sysctl", "-p", file}}}}}
	steps := []Step{s}
	if o := b.sysctlOverrides(file, values, reqs, optional); o != nil {
		steps = append(steps, *o)
	}
	return steps
}

// sysctlOverrides finds files read after ours at boot that set one of our keys to another
// value: systemd-sysctl applies files in the order of their names, the last one wins, and
// `sysctl --system` reads /etc/sysctl.conf last of all. A CIS-hardened host typically has a
// 99-*.conf with user.max_user_namespaces = 0. Editing another package's file is for a
// person to decide, so this is a manual step. The boot configuration is the one the probes
// read (facts.Env.SysctlBoot, with /dev/null masking and the directories' precedence): before
// issue 11 the planner scanned sysctl.d again, with a scanner of its own that counted masked
// files.
func (b *builder) sysctlOverrides(file string, values map[string]string, reqs []Request, optional bool) *Step {
	ours := path.Base(file)
	var why, where []string
	var probes []Request
	for _, st := range b.env.SysctlBoot().Settings {
		// Name "" is /etc/sysctl.conf, read after every sysctl.d file.
		if st.Name != "" && st.Name <= ours {
			continue
		}
		if CheckText("path", st.File) != nil || CheckText("path", st.Real) != nil {
			continue
		}
		shown := st.File
		if st.Real != st.File {
			shown = st.File + " (" + st.Real + ")"
		}
		want, ok := values[st.Key]
		if !ok || strings.Join(strings.Fields(st.Value), " ") == want || CheckText("value", st.Value) != nil {
			continue
		}
		where = append(where, st.Key+" in "+shown)
		why = append(why, fmt.Sprintf("%s sets %s = %s and is read after %s, so at boot it wins over %s = %s", shown, st.Key, st.Value, ours, st.Key, want))
		for _, r := range reqs {
			if r.Intent.Key == st.Key {
				probes = append(probes, r)
			}
		}
	}
	if len(why) == 0 {
		return nil
	}
	it := "it"
	if len(where) > 1 {
		it = "they"
	}
	s := newStep("sysctl.override"+suffix(optional), "Remove or comment out "+joinAnd(where)+": read later at boot, "+it+" would undo "+ours, probes)
	s.Why = why
	s.Manual = true
	s.tasks = []Task{debugTask("Settings that undo "+ours+" at boot", strings.Join(why, "; "))}
	return &s
}
