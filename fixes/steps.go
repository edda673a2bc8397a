package fixes

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/distro"
)

// distroName is the distribution's name for comments, or its id when the pretty name is
// not safe to print.
func (b *builder) distroName() string {
	if n := b.distro.PrettyName; n != "" && CheckText("distribution name", n) == nil {
		return n
	}
	if b.distro.ID != "" && CheckText("distribution id", b.distro.ID) == nil {
		return b.distro.ID
	}
	return "this distribution"
}

// readText reads a file through the host; a missing or unreadable file reads as empty.
func (b *builder) readText(p string) string {
	data, err := b.host.ReadFile(p)
	if err != nil {
		return ""
	}
	return string(data)
}

// byField groups requests by a key, keeping the (sorted) order of first appearance.
func byField(reqs []Request, key func(Request) string) ([]string, map[string][]Request) {
	var keys []string
	m := map[string][]Request{}
	for _, r := range reqs {
		k := key(r)
		if _, ok := m[k]; !ok {
			keys = append(keys, k)
		}
		m[k] = append(m[k], r)
	}
	return keys, m
}

// ---- packages ----------------------------------------------------------------------------

func (b *builder) packages(reqs []Request, optional bool) []Step {
	if len(reqs) == 0 {
		return nil
	}
	tools, byTool := byField(reqs, func(r Request) string { return r.Intent.Tool })
	if b.distro.PackageManager == "" {
		s := newStep("packages"+suffix(optional), "Install what provides "+joinAnd(tools), reqs)
		s.Manual = true
		s.Why = append(s.Why, fmt.Sprintf("rootless-doctor does not know the package manager of %s", b.distroName()))
		s.tasks = []Task{debugTask("Install by hand", s.Title)}
		return []Step{s}
	}
	var pkgs []string
	var pkgReqs []Request
	var manual []Step
	var reloginProbes []string
	for _, tool := range tools {
		rs := byTool[tool]
		pkg, ok := b.distro.Package(distro.Tool(tool))
		if !ok || !packagePattern.MatchString(pkg) {
			m := newStep("package."+tool, fmt.Sprintf("Install %s from upstream: %s has no package that provides it", tool, b.distroName()), rs)
			m.Manual = true
			m.tasks = []Task{debugTask("Install by hand", m.Title)}
			manual = append(manual, m)
			continue
		}
		pkgs = append(pkgs, pkg)
		pkgReqs = append(pkgReqs, rs...)
		// The per-user D-Bus starts with the next login (dbus-user-session, rootless docs).
		if tool == string(distro.ToolDBusUser) {
			reloginProbes = append(reloginProbes, probeIDs(rs)...)
		}
	}
	if len(pkgs) == 0 {
		return manual
	}
	slices.Sort(pkgs)
	pkgs = slices.Compact(pkgs)
	title := "Install the package " + pkgs[0]
	if len(pkgs) > 1 {
		title = "Install the packages " + joinAnd(pkgs)
	}
	s := newStep("packages"+suffix(optional), title, pkgReqs)
	s.Relogin = len(reloginProbes) > 0
	s.reloginFixes = reloginProbes
	// Package managers may prompt; inside `sudo sh <<EOF` their stdin is the rest of the
	// script, so they get /dev/null instead.
	if refresh := b.distro.RefreshCommand(); refresh != nil {
		s.Commands = append(s.Commands, shjoin(refresh)+" </dev/null")
	}
	install := b.distro.InstallCommand(pkgs)
	s.Commands = append(s.Commands, shjoin(install)+" </dev/null")
	s.Unless = installedCheck(b.distro.PackageManager, pkgs)
	switch b.distro.PackageManager {
	case distro.Apt:
		s.tasks = []Task{{Name: title, Module: "ansible.builtin.apt", Args: []Arg{
			{"name", pkgs}, {"state", "present"}, {"update_cache", true}, {"install_recommends", false},
		}}}
	case distro.Dnf, distro.Yum:
		s.tasks = []Task{{Name: title, Module: "ansible.builtin.package", Args: []Arg{{"name", pkgs}, {"state", "present"}}}}
	default:
		// zypper, pacman and apk modules live in community.general, not in ansible-core.
		s.tasks = guardedCommands(s)
	}
	return append([]Step{s}, manual...)
}

// installedCheck is a shell condition that succeeds when every package is installed.
func installedCheck(pm distro.PackageManager, pkgs []string) string {
	list := shjoin(pkgs)
	switch pm {
	case distro.Apt:
		// dpkg -s also succeeds for a removed package whose config files remain; the status
		// field says "installed" only for an installed one.
		return "(for p in " + list + `; do dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null | grep -qx installed || exit 1; done)`
	case distro.Dnf, distro.Yum, distro.Zypper:
		return "rpm -q --quiet " + list
	case distro.Pacman:
		return "pacman -Q " + list + " >/dev/null 2>&1"
	case distro.Apk:
		return "apk info -e " + list + " >/dev/null 2>&1"
	}
	return ""
}

// ---- kernel modules ----------------------------------------------------------------------

func (b *builder) modules(reqs []Request, optional bool) []Step {
	if len(reqs) == 0 {
		return nil
	}
	names, _ := byField(reqs, func(r Request) string { return r.Intent.Name })
	file := ModulesFile
	if optional {
		file = OptionalModulesFile
	}
	all := slices.Clone(names)
	for _, line := range strings.Split(b.readText(file), "\n") {
		line = strings.TrimSpace(line)
		if modulePattern.MatchString(line) {
			all = append(all, line)
		}
	}
	slices.Sort(all)
	all = slices.Compact(all)
	content := "# Kernel modules for rootless containers, loaded at boot by systemd-modules-load\n" +
		"# (modules-load.d(5)). Written by `rootless-doctor fix`, which keeps what an earlier run\n" +
		"# put here.\n" + strings.Join(all, "\n") + "\n"
	title := "Load the kernel module " + names[0] + " now and at boot"
	if len(names) > 1 {
		title = "Load the kernel modules " + joinAnd(names) + " now and at boot"
	}
	s := newStep("modules"+suffix(optional), title, reqs)
	s.Files = []File{{Path: file, Mode: "0644", Content: content}}
	for _, n := range names {
		// /sys/module/NAME exists for a loaded module and for a built-in one with a version or
		// parameters: then modprobe is not needed, and may not even work (a kernel without
		// /lib/modules, as on many container hosts).
		s.Commands = append(s.Commands, fmt.Sprintf("[ -d /sys/module/%s ] || modprobe %s", strings.ReplaceAll(n, "-", "_"), n))
	}
	s.tasks = filesTasks(s.Files)
	for _, n := range names {
		s.tasks = append(s.tasks, Task{Name: "Load " + n, Module: "ansible.builtin.command", Args: []Arg{
			{"argv", []string{"modprobe", n}}, {"creates", "/sys/module/" + strings.ReplaceAll(n, "-", "_")},
		}, ChangedWhenFalse: true})
	}
	return []Step{s}
}

// ---- sysctls -----------------------------------------------------------------------------

// sysctlDirs are read in this order of precedence for files of the same name (sysctl.d(5)).
var sysctlDirs = []string{"/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d"}

// parseSysctlConf reads sysctl.d(5) lines "key = value"; `#` and `;` start comments, a
// leading `-` only silences errors, and `/` separates like `.`.
func parseSysctlConf(text string) [][2]string {
	var out [][2]string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k = strings.ReplaceAll(strings.TrimPrefix(strings.TrimSpace(k), "-"), "/", ".")
		out = append(out, [2]string{k, strings.TrimSpace(v)})
	}
	return out
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
	for _, kv := range parseSysctlConf(b.readText(file)) {
		if checkSysctl(kv[0], kv[1]) == nil {
			all[kv[0]] = kv[1]
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
	s.tasks = append(filesTasks(s.Files), Task{Name: "Apply " + file, Module: "ansible.builtin.command",
		Args: []Arg{{"argv", []string{"sysctl", "-p", file}}}, ChangedWhenFalse: true})
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
// person to decide, so this is a manual step.
func (b *builder) sysctlOverrides(file string, values map[string]string, reqs []Request, optional bool) *Step {
	ours := path.Base(file)
	byName := map[string]string{}
	for _, dir := range sysctlDirs {
		entries, err := b.host.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			n := e.Name()
			if !strings.HasSuffix(n, ".conf") || n <= ours {
				continue
			}
			if _, seen := byName[n]; !seen {
				byName[n] = dir + "/" + n
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names)
	paths := make([]string, 0, len(names)+1)
	for _, n := range names {
		paths = append(paths, byName[n])
	}
	paths = append(paths, "/etc/sysctl.conf")
	seen := map[string]bool{}
	var why, where []string
	var probes []Request
	for _, p := range paths {
		real := p
		if r, err := b.host.EvalSymlinks(p); err == nil {
			real = r
		}
		if seen[real] || CheckText("path", p) != nil || CheckText("path", real) != nil {
			continue
		}
		seen[real] = true
		shown := p
		if real != p {
			shown = p + " (" + real + ")"
		}
		for _, kv := range parseSysctlConf(b.readText(p)) {
			want, ok := values[kv[0]]
			if !ok || strings.Join(strings.Fields(kv[1]), " ") == want || CheckText("value", kv[1]) != nil {
				continue
			}
			where = append(where, kv[0]+" in "+shown)
			why = append(why, fmt.Sprintf("%s sets %s = %s and is read after %s, so at boot it wins over %s = %s", shown, kv[0], kv[1], ours, kv[0], want))
			for _, r := range reqs {
				if r.Intent.Key == kv[0] {
					probes = append(probes, r)
				}
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

// ---- subordinate ids ---------------------------------------------------------------------

// stripCR removes the carriage returns of CRLF line ends from /etc/subuid or /etc/subgid.
// shadow cuts only the '\n' off a line (lib/commonio.c) and then reads "65536\r" with
// strtoul, which stops at the CR, so getulong rejects the count and the whole line is skipped:
// getsubids lists nothing and newuidmap refuses, while Go readers that trim the line see a
// range (checks/parse/subid.go). It runs before subid.add, whose allocator already keeps
// clear of the ids these lines will hold.
func (b *builder) stripCR(reqs []Request, optional bool) []Step {
	paths, byPath := byField(reqs, func(r Request) string { return r.Intent.Path })
	slices.Sort(paths)
	var steps []Step
	for _, p := range paths {
		s := newStep("crlf."+path.Base(p)+suffix(optional), "Remove the carriage returns (CRLF line ends) from "+p, byPath[p])
		s.Why = append(s.Why, "shadow reads the CR at the end of a line as part of the count and skips the line, so getsubids and newuidmap do not see its range")
		// printf '\r' keeps the script free of control characters; sed -i is what the applier
		// recognises as a write (and backs the file up first).
		cr := `"$(printf '\r')"`
		s.Commands = []string{fmt.Sprintf(`if grep -q %[1]s'$' %[2]s; then sed -i "s/$(printf '\r')*\$//" %[2]s; fi`, cr, p)}
		s.tasks = []Task{{Name: "Remove the carriage returns from " + p, Module: "ansible.builtin.replace",
			Args: []Arg{{"path", p}, {"regexp", `\r+$`}, {"replace", ""}}}}
		steps = append(steps, s)
	}
	return steps
}

func (b *builder) subIDs(reqs []Request, optional bool) []Step {
	if len(reqs) == 0 {
		return nil
	}
	if b.alloc == nil {
		b.alloc = newAllocator(readIDFacts(b.host))
	}
	facts := b.alloc.facts
	users, byUser := byField(reqs, func(r Request) string { return r.Intent.User })
	slices.Sort(users)
	var steps []Step
	for _, user := range users {
		rs := byUser[user]
		id := "subid.add" + suffix(optional)
		if len(users) > 1 {
			id += "." + user
		}
		w := subIDWant{user: user}
		for _, r := range rs {
			in := r.Intent
			uids, gids := in.Map != "gid", in.Map != "uid"
			w.uids, w.gids = w.uids || uids, w.gids || gids
			w.count = max(w.count, in.Count)
			for _, rm := range in.Remove {
				sp, _ := parseRange(rm)
				if uids {
					w.removeUID = append(w.removeUID, sp)
				}
				if gids {
					w.removeGID = append(w.removeGID, sp)
				}
			}
		}
		if w.count == 0 {
			w.count = facts.uidLim.count
			if !w.uids {
				w.count = facts.gidLim.count
			}
			if w.count <= 0 {
				w.count = parse.DefaultSubIDCount
			}
		}
		which := map[[2]bool]string{{true, true}: "uids and gids", {true, false}: "uids", {false, true}: "gids"}[[2]bool{w.uids, w.gids}]
		if facts.problem != "" {
			s := newStep(id, fmt.Sprintf("Give %s %d subordinate %s by hand", user, w.count, which), rs)
			s.Manual = true
			s.Why = append(s.Why, facts.problem+": without it a free range cannot be chosen safely")
			s.tasks = []Task{debugTask("Subordinate ids", s.Title)}
			steps = append(steps, s)
			continue
		}
		uid, inPasswd := facts.uidOf[user]
		if !inPasswd {
			uid = -1
			if self := b.host.Self(); self.Name == user {
				uid = int64(self.UID)
			}
		}
		a := b.alloc.allocate(w, uid)
		if a.failure != "" {
			s := newStep(id, fmt.Sprintf("Give %s %d subordinate %s by hand", user, w.count, which), rs)
			s.Manual = true
			s.Why = append(s.Why, a.failure+": raise the limit in /etc/login.defs or free a range")
			s.tasks = []Task{debugTask("Subordinate ids", s.Title+": "+a.failure)}
			steps = append(steps, s)
			continue
		}
		// usermod --add-subuids needs shadow-utils ≥ 4.2 and a local account; Alpine's
		// default tools are busybox, and a directory user (LDAP, SSSD) is not in
		// /etc/passwd, so there the line is appended, guarded by grep.
		useUsermod := inPasswd && b.distro.PackageManager != "" && b.distro.Family != distro.FamilyAlpine
		steps = append(steps, subIDStep(id, a, rs, useUsermod, facts.notes))
	}
	return steps
}

// subIDStep renders one user's allocation as commands and Ansible tasks.
func subIDStep(id string, a subIDAlloc, rs []Request, useUsermod bool, notes []string) Step {
	w := a.want
	user := w.user
	uidSpan, _ := spanOf(a.uidStart, w.count)
	gidSpan, _ := spanOf(a.gidStart, w.count)
	var title string
	switch {
	case w.uids && w.gids && a.uidStart == a.gidStart:
		title = fmt.Sprintf("Give %s %d subordinate uids and gids (%d-%d)", user, w.count, uidSpan.lo, uidSpan.hi)
	case w.uids && w.gids:
		title = fmt.Sprintf("Give %s %d subordinate uids (%d-%d) and gids (%d-%d)", user, w.count, uidSpan.lo, uidSpan.hi, gidSpan.lo, gidSpan.hi)
	case w.uids:
		title = fmt.Sprintf("Give %s %d subordinate uids (%d-%d)", user, w.count, uidSpan.lo, uidSpan.hi)
	default:
		title = fmt.Sprintf("Give %s %d subordinate gids (%d-%d)", user, w.count, gidSpan.lo, gidSpan.hi)
	}
	s := newStep(id, title, rs)
	s.Why = append(s.Why, notes...)
	s.Why = append(s.Why, "the range is free in /etc/subuid and /etc/subgid (every line, malformed ones too), holds no real uid or gid, and lies inside SUB_UID_MIN..SUB_UID_MAX of /etc/login.defs")
	if !useUsermod {
		s.Why = append(s.Why, "the lines are appended (guarded by grep): usermod --add-subuids is not available here or the account is not in /etc/passwd")
	}
	s.Why = append(s.Why, "afterwards restart rootless engines so they map the new range (podman system migrate; systemctl --user restart docker)")

	type part struct {
		file, flag, ids string
		span            span
		edits           []lineEdit
	}
	var parts []part
	if w.uids {
		parts = append(parts, part{"/etc/subuid", "subuids", "/etc/passwd", uidSpan, a.editsUID})
	}
	if w.gids {
		parts = append(parts, part{"/etc/subgid", "subgids", "/etc/group", gidSpan, a.editsGID})
	}
	uidText := ""
	if a.uid >= 0 {
		uidText = strconv.FormatInt(a.uid, 10)
	}
	line := func(sp span) string { return fmt.Sprintf("%s:%d:%d", user, sp.lo, sp.count()) }
	for _, p := range parts {
		// usermod refuses to add ranges when the file does not exist; newuidmap and the
		// engines read it as the user, so it must be world-readable whatever the umask.
		s.Commands = append(s.Commands, fmt.Sprintf("[ -e %[1]s ] || { : >%[1]s; chmod 0644 %[1]s; }", p.file))
	}
	for _, p := range parts {
		argv := freeCheck(p.file, p.ids, p.span, user, uidText)
		s.Commands = append(s.Commands, shjoin(argv))
		s.tasks = append(s.tasks, Task{Name: fmt.Sprintf("Check that %d-%d is still free in %s", p.span.lo, p.span.hi, p.file),
			Module: "ansible.builtin.command", Args: []Arg{{"argv", argv}}, ChangedWhenFalse: true})
	}
	for _, p := range parts {
		if len(p.edits) == 0 {
			continue
		}
		if useUsermod {
			var guards, ranges []string
			var seen = map[span]bool{}
			for _, e := range p.edits {
				guards = append(guards, "grep -qxF "+ShellQuote(e.line)+" "+p.file)
				for _, rm := range e.removed {
					if !seen[rm] {
						seen[rm] = true
						ranges = append(ranges, fmt.Sprintf("--del-%s %d-%d", p.flag, rm.lo, rm.hi))
					}
				}
			}
			s.Commands = append(s.Commands, fmt.Sprintf("if %s; then usermod %s %s; fi", strings.Join(guards, " || "), strings.Join(ranges, " "), ShellQuote(user)))
		} else {
			s.Commands = append(s.Commands, fmt.Sprintf(`[ -z "$(tail -c 1 %[1]s)" ] || echo >>%[1]s`, p.file))
			for _, e := range p.edits {
				s.Commands = append(s.Commands, fmt.Sprintf("if grep -qxF %s %s; then sed -i %s %s; fi", ShellQuote(e.line), p.file, ShellQuote("/^"+strings.ReplaceAll(e.line, "$", `\$`)+"$/d"), p.file))
				for _, k := range e.keep {
					s.Commands = append(s.Commands, fmt.Sprintf("grep -qxF %[1]s %[2]s || printf '%%s\\n' %[1]s >>%[2]s", ShellQuote(k), p.file))
				}
			}
		}
	}
	if useUsermod {
		var guards, args []string
		for _, p := range parts {
			guards = append(guards, "! grep -qxF "+ShellQuote(line(p.span))+" "+p.file)
			args = append(args, fmt.Sprintf("--add-%s %d-%d", p.flag, p.span.lo, p.span.hi))
		}
		// usermod skips a range the user already has (shadow-utils lib/subordinateio.c,
		// add_range), so asking for both when only one is missing is safe.
		s.Commands = append(s.Commands, fmt.Sprintf("if %s; then usermod %s %s; fi", strings.Join(guards, " || "), strings.Join(args, " "), ShellQuote(user)))
	} else {
		for _, p := range parts {
			if len(p.edits) == 0 {
				s.Commands = append(s.Commands, fmt.Sprintf(`[ -z "$(tail -c 1 %[1]s)" ] || echo >>%[1]s`, p.file))
			}
			s.Commands = append(s.Commands, fmt.Sprintf("grep -qxF %[1]s %[2]s || printf '%%s\\n' %[1]s >>%[2]s", ShellQuote(line(p.span)), p.file))
		}
	}
	// Ansible: lineinfile is idempotent by itself and in ansible-core.
	for _, p := range parts {
		for _, e := range p.edits {
			s.tasks = append(s.tasks, Task{Name: "Remove " + e.line + " from " + p.file, Module: "ansible.builtin.lineinfile", Args: []Arg{
				{"path", p.file}, {"regexp", "^" + regexpQuote(e.line) + "$"}, {"state", "absent"},
			}})
			for _, k := range e.keep {
				s.tasks = append(s.tasks, lineTask(p.file, k))
			}
		}
		s.tasks = append(s.tasks, lineTask(p.file, line(p.span)))
	}
	return s
}

// freeAwk fails, naming the owners, when a range chosen at plan time is taken on the
// machine the script runs on: a script pasted into a Dockerfile, or a playbook run across a
// fleet, may meet files other than the ones the plan was computed from.
//
// It reads the subid file the way shadow does (checks/parse/subid.go has the upstream
// references): num is shadow 4.13's getulong, strtoul(s, &end, 0) that must read the whole
// field — leading blanks and '+' allowed, "0x…" hex, "0…" octal, anything after the number
// rejects the entry — so "rdX:0503240:0200000" holds 165536-231071, not 503240-703239. A line
// starting with '+' or '-' (NIS), of 1024 bytes or more, with an empty field or with a count
// of 0 is no entry to shadow and is skipped; a fourth field is ignored, as 4.13 does. Two
// deliberate differences, both on the safe side: a CR at the end of the line is dropped
// (shadow skips such a line, but the CRLF step that runs before this one removes it), and a
// negative count is taken to reach the last id (shadow 4.13 wraps it to 2^64-N). Numbers are
// awk doubles, exact below 2^53, which covers every id; past that only "huge" matters.
const freeAwk = `function num(s,  n, i, b, neg) { sub(/^[ \t\n\v\f\r]+/, "", s); neg = 0; ` +
	`if (s ~ /^[-+]/) { neg = substr(s, 1, 1) == "-"; s = substr(s, 2) } ` +
	`if (s ~ /^0[xX][0-9a-fA-F]+$/) { b = 16; s = substr(s, 3) } else if (s ~ /^0[0-7]*$/) b = 8; else if (s ~ /^[1-9][0-9]*$/) b = 10; else return -1; ` +
	`n = 0; for (i = 1; i <= length(s); i++) { n = n * b + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1; if (n > 18446744073709551615) return -1 } ` +
	`if (neg && n > 0) return -2; return n } ` +
	`FILENAME == ids { if ($3 + 0 >= lo && $3 + 0 <= hi) bad = bad " " $1; next } ` +
	`{ sub(/\r$/, "") } ` +
	`$1 != u && $1 != id && $1 !~ /^[-+]/ && NF >= 3 && $1 != "" && $2 != "" && $3 != "" && length($0) < 1024 { ` +
	`s = num($2); c = num($3); if (s >= 0 && s <= hi && (c == -2 || c > 0 && s + c - 1 >= lo)) bad = bad " " $1 } ` +
	`END { if (bad != "") { print "rootless-doctor: " lo "-" hi " is not free on this machine (used by" bad "): run rootless-doctor fix here"; exit 1 } }`

// freeCheck is the argv of the check that the span is still free in file (other owners'
// ranges) and ids (/etc/passwd or /etc/group: real ids).
func freeCheck(file, ids string, sp span, user, uid string) []string {
	return []string{"awk", "-F:", "-v", fmt.Sprintf("lo=%d", sp.lo), "-v", fmt.Sprintf("hi=%d", sp.hi),
		"-v", "u=" + user, "-v", "id=" + uid, "-v", "ids=" + ids, freeAwk, file, ids}
}

func lineTask(file, line string) Task {
	return Task{Name: "Add " + line + " to " + file, Module: "ansible.builtin.lineinfile", Args: []Arg{
		{"path", file}, {"line", line}, {"create", true}, {"owner", "root"}, {"group", "root"}, {"mode", "0644"},
	}}
}

// regexpQuote escapes the characters a subid line may hold that are special in Python's re.
func regexpQuote(s string) string {
	return strings.NewReplacer("$", `\$`, ".", `\.`).Replace(s)
}

// ---- AppArmor ----------------------------------------------------------------------------

// profileName turns a binary path into the name of its profile file the way the apparmor
// package does (/usr/bin/rootlesskit → usr.bin.rootlesskit), with characters outside
// [A-Za-z0-9._-] as "_".
func profileName(p string) string {
	var sb strings.Builder
	for _, r := range strings.TrimPrefix(p, "/") {
		switch {
		case r == '/':
			sb.WriteByte('.')
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-':
			sb.WriteRune(r)
		default:
			sb.WriteByte('_')
		}
	}
	return sb.String()
}

func (b *builder) appArmor(reqs []Request) []Step {
	if len(reqs) == 0 {
		return nil
	}
	// AppArmor attaches to the path the kernel executes, with symlinks resolved: a profile
	// for ~/bin/rootlesskit does nothing if that is a link to /opt/…/rootlesskit
	// (rootless-containers/rootlesskit#439).
	resolved := map[string]string{}
	paths, byPath := byField(reqs, func(r Request) string {
		p := r.Intent.Path
		if real, err := b.host.EvalSymlinks(p); err == nil && real != p && checkPath("path", real) == nil {
			resolved[real] = p
			return real
		}
		return p
	})
	slices.Sort(paths)
	names := map[string]string{}
	count := map[string]int{}
	for _, p := range paths {
		names[p] = profileName(p)
		count[names[p]]++
	}
	var steps []Step
	for _, p := range paths {
		name := names[p]
		if count[name] > 1 {
			h := fnv.New32a()
			h.Write([]byte(p))
			name += "-" + strconv.FormatUint(uint64(h.Sum32()), 16)
		}
		prof := "rootless-doctor." + name
		file := AppArmorDir + "/" + prof
		attach := p
		if strings.Contains(p, " ") {
			attach = `"` + p + `"`
		}
		content := "# Written by `rootless-doctor fix`: lets " + p + " create user namespaces while\n" +
			"# kernel.apparmor_restrict_unprivileged_userns=1 (the default since Ubuntu 24.04).\n" +
			"# https://rootlesscontaine.rs/getting-started/common/apparmor/\n" +
			"abi <abi/4.0>,\n" +
			"include <tunables/global>\n\n" +
			"profile " + prof + " " + attach + " flags=(unconfined) {\n" +
			"  userns,\n\n" +
			"  # Site-specific additions and overrides. See local/README for details.\n" +
			"  include if exists <local/" + prof + ">\n" +
			"}\n"
		s := newStep("apparmor."+name, "Let "+p+" create user namespaces (AppArmor profile "+prof+")", byPath[p])
		if from, ok := resolved[p]; ok {
			s.Why = append(s.Why, from+" resolves to "+p+", the path AppArmor sees")
		}
		s.Why = append(s.Why, "alternative, not used: sysctl kernel.apparmor_restrict_unprivileged_userns=0 lifts the restriction for every program on the host, which weakens its security")
		s.Files = []File{{Path: file, Mode: "0644", Content: content}}
		s.Commands = []string{"apparmor_parser -r " + ShellQuote(file)}
		s.tasks = append(filesTasks(s.Files), Task{Name: "Load " + prof, Module: "ansible.builtin.command",
			Args: []Arg{{"argv", []string{"apparmor_parser", "-r", file}}}, ChangedWhenFalse: true})
		steps = append(steps, s)
	}
	return steps
}

// ---- cgroup delegation -------------------------------------------------------------------

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
				if controllerPattern.MatchString(c) && c != "yes" && c != "no" && c != "true" && c != "false" {
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
	s.tasks = append(filesTasks(s.Files), Task{Name: "Reload systemd", Module: "ansible.builtin.command",
		Args: []Arg{{"argv", []string{"systemctl", "daemon-reload"}}, {"removes", "/run/systemd/system"}}, ChangedWhenFalse: true})
	return []Step{s}
}

// ---- devices -----------------------------------------------------------------------------

// deviceModules are the modules that create a device node when it is missing.
var deviceModules = map[string]string{"/dev/net/tun": "tun", "/dev/fuse": "fuse"}

func (b *builder) devices(reqs []Request) []Step {
	paths, byPath := byField(reqs, func(r Request) string { return r.Intent.Path })
	bases := map[string]int{}
	for _, p := range paths {
		bases[path.Base(p)]++
	}
	var steps []Step
	for _, p := range paths {
		rs := byPath[p]
		mode := normMode(rs[0].Intent.Mode)
		base := path.Base(p)
		// Two devices with one base name (/dev/net/tun, /dev/tun) get names from their
		// whole path, so their ids and rule files stay apart.
		name := base
		if bases[base] > 1 {
			name = profileName(p)
		}
		s := newStep("device."+name, fmt.Sprintf("Make %s mode %s now and at boot", p, mode), rs)
		for _, r := range rs[1:] {
			if m := normMode(r.Intent.Mode); m != mode {
				s.Why = append(s.Why, fmt.Sprintf("%s asked for mode %s; %s is kept", r.ProbeID, m, mode))
			}
		}
		if p == "/dev/net/tun" {
			s.Why = append(s.Why, "0666 is the kernel's own default for /dev/net/tun; opening it grants nothing by itself (creating an interface needs CAP_NET_ADMIN in the network namespace)")
		}
		// The rule matches the kernel name (the last part of the path: tun for /dev/net/tun)
		// and makes the mode last across reboots and module reloads.
		if !b.udevRuns() {
			// Without udev (minimal containers, some WSL and embedded setups) /dev is a bare
			// devtmpfs: the rule below waits for a udev that never comes, so the mode lasts
			// only until the next boot.
			s.Why = append(s.Why, "no udev runs on this host (/run/udev is missing): the rule takes effect only where udev runs; otherwise repeat the chmod at every boot from the init system")
		}
		rule := UdevRulesDir + "/60-rootless-doctor-" + name + ".rules"
		content := "# Written by `rootless-doctor fix`: rootless containers open " + p + " as the user.\n" +
			"KERNEL==\"" + base + "\", MODE=\"" + mode + "\"\n"
		s.Files = []File{{Path: rule, Mode: "0644", Content: content}}
		if mod, ok := deviceModules[p]; ok {
			s.Commands = append(s.Commands, fmt.Sprintf("[ -e %s ] || modprobe %s", p, mod))
			s.tasks = append(s.tasks, Task{Name: "Load " + mod, Module: "ansible.builtin.command",
				Args: []Arg{{"argv", []string{"modprobe", mod}}, {"creates", p}}, ChangedWhenFalse: true})
		}
		s.Commands = append(s.Commands, "chmod "+mode+" "+ShellQuote(p))
		s.tasks = append(s.tasks, Task{Name: "Mode " + mode + " on " + p, Module: "ansible.builtin.file",
			Args: []Arg{{"path", p}, {"mode", mode}}})
		s.tasks = append(s.tasks, filesTasks(s.Files)...)
		steps = append(steps, s)
	}
	return steps
}

// normMode writes an octal mode with four digits.
func normMode(m string) string {
	for len(m) < 4 {
		m = "0" + m
	}
	return m
}

// ---- linger ------------------------------------------------------------------------------

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
		s.tasks = append(s.tasks, Task{Name: "Enable linger for " + u, Module: "ansible.builtin.command",
			Args: []Arg{{"argv", []string{"loginctl", "enable-linger", u}}, {"creates", flag}}})
	}
	return []Step{s}
}

// ---- manual ------------------------------------------------------------------------------

func (b *builder) manual(reqs []Request) []Step {
	ids, byID := byField(reqs, func(r Request) string { return r.Intent.ID() })
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

// udevRuns reports whether udev manages /dev here: udevd creates /run/udev when it starts.
// Only the live machine is asked: a recorded host does not record /run/udev (snapshots keep
// only what the probes read), so its absence there proves nothing.
func (b *builder) udevRuns() bool {
	if b.host == nil || !b.host.Live() {
		return true
	}
	fi, err := b.host.Stat("/run/udev")
	if err != nil {
		return !errors.Is(err, fs.ErrNotExist)
	}
	return fi.IsDir()
}
