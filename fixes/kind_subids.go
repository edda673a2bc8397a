package fixes

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// SubIDs: give an account a free range of subordinate ids (the allocator is subid.go), or
// leave a range it lists twice on one line.
var kindSubIDs = kind{
	kind: finding.SubIDs,
	id:   subIDsID,
	describe: func(in finding.Intent) string {
		if subIDsID(in) == "subid.dedupe" {
			return fmt.Sprintf("leave %s's subordinate %s id range %s on one line, removing the later copies", in.User, mapWord(in.Map), strings.Join(in.Keep, ", "))
		}
		s := fmt.Sprintf("give %s a free range of %d subordinate %s ids", in.User, in.Count, mapWord(in.Map))
		if len(in.Remove) > 0 {
			s += fmt.Sprintf(" (removing %s first)", strings.Join(in.Remove, ", "))
		}
		if len(in.Keep) > 0 {
			s += fmt.Sprintf(" (leaving %s on one line)", strings.Join(in.Keep, ", "))
		}
		return s
	},
	validate: func(in finding.Intent) error {
		if err := checkUser(in.User); err != nil {
			return err
		}
		switch in.Map {
		case "uid", "gid", "both", "":
		default:
			return fmt.Errorf("%w: map %q is not uid, gid or both", ErrInvalid, in.Map)
		}
		if in.Count < 0 {
			return fmt.Errorf("%w: negative count %d", ErrInvalid, in.Count)
		}
		for _, rm := range in.Remove {
			if _, ok := parseRange(rm); !ok {
				return fmt.Errorf("%w: remove range %q is not START-END inside 0-%d", ErrInvalid, rm, maxID)
			}
		}
		for _, k := range in.Keep {
			if _, ok := parseRange(k); !ok {
				return fmt.Errorf("%w: keep range %q is not START-END inside 0-%d", ErrInvalid, k, maxID)
			}
		}
		return nil
	},
	sudo: func(in finding.Intent, account string, _ host.Host) error {
		if in.User != account {
			return fmt.Errorf("subordinate ids for %q: an account may ask only for its own (%s)", in.User, account)
		}
		if in.Count < 0 || in.Count > parse.MinSubIDs {
			return fmt.Errorf("%d subordinate ids: probes ask for at most %d", in.Count, parse.MinSubIDs)
		}
		return nil
	},
	build: (*builder).subIDs,
}

// subIDsID is the step id of a SubIDs intent: subid.dedupe when it only removes the later
// copies of ranges listed twice, subid.add when it gives a range.
func subIDsID(in finding.Intent) string {
	if in.Count == 0 && len(in.Keep) > 0 {
		return "subid.dedupe"
	}
	return "subid.add"
}

func mapWord(m string) string {
	switch m {
	case "uid":
		return "user"
	case "gid":
		return "group"
	}
	return "user and group"
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
		w := subIDWant{user: user}
		for _, r := range rs {
			in := r.Intent
			uids, gids := in.Map != "gid", in.Map != "uid"
			addRanges(in.Keep, uids, gids, &w.keepUID, &w.keepGID)
			if subIDsID(in) == "subid.dedupe" {
				continue
			}
			w.uids, w.gids = w.uids || uids, w.gids || gids
			w.count = max(w.count, in.Count)
			addRanges(in.Remove, uids, gids, &w.removeUID, &w.removeGID)
		}
		// A range that goes anyway needs no deduplication.
		w.keepUID = slices.DeleteFunc(w.keepUID, func(k parse.IDSpan) bool { return overlapsAny(k, w.removeUID) })
		w.keepGID = slices.DeleteFunc(w.keepGID, func(k parse.IDSpan) bool { return overlapsAny(k, w.removeGID) })
		fresh := w.uids || w.gids
		id := "subid.dedupe"
		if fresh {
			id = "subid.add"
		}
		id += suffix(optional)
		if len(users) > 1 {
			id += "." + user
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
		title := fmt.Sprintf("Give %s %d subordinate %s by hand", user, w.count, which)
		if !fresh {
			title = fmt.Sprintf("Remove the duplicate lines of %s's subordinate ids by hand", user)
		}
		if facts.problem != "" {
			s := newStep(id, title, rs)
			s.Manual = true
			s.Why = append(s.Why, facts.problem+": without it the subordinate id files cannot be changed safely")
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
		dd := subIDDedupes{
			uid: b.alloc.dedupes(facts.subuid, user, uid, w.keepUID),
			gid: b.alloc.dedupes(facts.subgid, user, uid, w.keepGID),
		}
		if !fresh {
			if s, ok := dedupeStep(id, user, rs, dd); ok {
				steps = append(steps, s)
			}
			continue
		}
		a := b.alloc.allocate(w, uid)
		if a.failure != "" {
			s := newStep(id, title, rs)
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
		steps = append(steps, subIDStep(id, a, rs, useUsermod, facts.notes, dd, b.userRef(user)))
	}
	return steps
}

// addRanges appends the "START-END" ranges (validated already) to the uid and/or gid lists.
func addRanges(ranges []string, uids, gids bool, toUID, toGID *[]parse.IDSpan) {
	for _, r := range ranges {
		sp, _ := parseRange(r)
		if uids {
			*toUID = append(*toUID, sp)
		}
		if gids {
			*toGID = append(*toGID, sp)
		}
	}
}

func overlapsAny(sp parse.IDSpan, in []parse.IDSpan) bool {
	return slices.ContainsFunc(in, sp.Overlaps)
}

// subIDDedupes are the deduplications of one account's lines, per file.
type subIDDedupes struct{ uid, gid []subIDDedupe }

func (dd subIDDedupes) byFile() []struct {
	file string
	ds   []subIDDedupe
} {
	return []struct {
		file string
		ds   []subIDDedupe
	}{{"/etc/subuid", dd.uid}, {"/etc/subgid", dd.gid}}
}

// dedupeStep is the step of an account that only lists ranges twice; ok is false when the
// files hold no duplicate any more.
func dedupeStep(id, user string, rs []Request, dd subIDDedupes) (Step, bool) {
	var ranges []string
	for _, f := range dd.byFile() {
		for _, d := range f.ds {
			ranges = append(ranges, fmt.Sprintf("%d-%d (line %d of %s)", d.span.First, d.span.Last, d.firstLine, f.file))
		}
	}
	if len(ranges) == 0 {
		return Step{}, false
	}
	s := newStep(id, fmt.Sprintf("Remove the repeated lines of %s's subordinate ids, keeping each range once: %s", user, strings.Join(ranges, ", ")), rs)
	dedupeCommands(&s, dd)
	return s, true
}

// dedupeCommands adds to s the commands and tasks that remove the later copies of the ranges
// of dd, the first line of each staying, and why.
func dedupeCommands(s *Step, dd subIDDedupes) {
	for _, f := range dd.byFile() {
		for _, d := range f.ds {
			s.Why = append(s.Why, fmt.Sprintf("%d-%d is listed more than once in %s: line %d stays, so the ids the account's containers own keep their mapping, and the later copies go (engines pass every line, and the kernel rejects overlapping extents)", d.span.First, d.span.Last, f.file, d.firstLine))
			var cmds []string
			if d.again {
				// Every line equal to the first but the first: sed keeps a mark in its hold
				// space once it has seen one.
				cmds = append(cmds, fmt.Sprintf(`if [ "$(grep -cxF %[1]s %[2]s)" -gt 1 ]; then sed -i %[3]s %[2]s; fi`,
					ShellQuote(d.first), f.file, ShellQuote("/^"+sedQuote(d.first)+"$/{x;/./{x;d;};s/^/1/;x;}")))
			}
			for _, o := range d.others {
				cmds = append(cmds, fmt.Sprintf("if grep -qxF %[1]s %[3]s && grep -qxF %[2]s %[3]s; then sed -i %[4]s %[3]s; fi",
					ShellQuote(d.first), ShellQuote(o), f.file, ShellQuote("/^"+sedQuote(o)+"$/d")))
			}
			s.Commands = append(s.Commands, cmds...)
			for _, c := range cmds {
				s.tasks = append(s.tasks, Task{Name: fmt.Sprintf("Leave %d-%d on one line of %s", d.span.First, d.span.Last, f.file),
					Module: "ansible.builtin.command", Args: []Arg{{"argv", []string{"sh", "-c", c}}}})
			}
			if len(d.stuck) > 0 {
				var ls []string
				for _, l := range d.stuck {
					ls = append(ls, strconv.Itoa(l))
				}
				s.Why = append(s.Why, fmt.Sprintf("delete line(s) %s of %s by hand: they repeat line %d in a form a script cannot match exactly", strings.Join(ls, ", "), f.file, d.firstLine))
			}
		}
	}
}

// subIDStep renders one user's allocation as commands and Ansible tasks; dd are the account's
// repeated lines to remove with it; ref is how tasks name the user (the playbook's account
// variable for the plan's own account).
func subIDStep(id string, a subIDAlloc, rs []Request, useUsermod bool, notes []string, dd subIDDedupes, ref string) Step {
	w := a.want
	user := w.user
	uidSpan, _ := parse.SpanOf(a.uidStart, w.count)
	gidSpan, _ := parse.SpanOf(a.gidStart, w.count)
	var title string
	switch {
	case w.uids && w.gids && a.uidStart == a.gidStart:
		title = fmt.Sprintf("Give %s %d subordinate uids and gids (%d-%d)", user, w.count, uidSpan.First, uidSpan.Last)
	case w.uids && w.gids:
		title = fmt.Sprintf("Give %s %d subordinate uids (%d-%d) and gids (%d-%d)", user, w.count, uidSpan.First, uidSpan.Last, gidSpan.First, gidSpan.Last)
	case w.uids:
		title = fmt.Sprintf("Give %s %d subordinate uids (%d-%d)", user, w.count, uidSpan.First, uidSpan.Last)
	default:
		title = fmt.Sprintf("Give %s %d subordinate gids (%d-%d)", user, w.count, gidSpan.First, gidSpan.Last)
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
		span            parse.IDSpan
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
	line := func(sp parse.IDSpan) string { return fmt.Sprintf("%s:%d:%d", user, sp.First, sp.Count()) }
	for _, p := range parts {
		// usermod refuses to add ranges when the file does not exist; newuidmap and the
		// engines read it as the user, so it must be world-readable whatever the umask.
		s.Commands = append(s.Commands, fmt.Sprintf("[ -e %[1]s ] || { : >%[1]s; chmod 0644 %[1]s; }", p.file))
	}
	for _, p := range parts {
		argv := freeCheck(p.file, p.ids, p.span, user, uidText)
		s.Commands = append(s.Commands, shjoin(argv))
		if len(p.edits) > 0 {
			s.tasks = append(s.tasks, Task{Name: fmt.Sprintf("Check that %d-%d is still free in %s", p.span.First, p.span.Last, p.file),
				Module: "ansible.builtin.command", Args: []Arg{{"argv", argv}}, ChangedWhenFalse: true})
		}
	}
	dedupeCommands(&s, dd)
	for _, p := range parts {
		if len(p.edits) == 0 {
			continue
		}
		if useUsermod {
			var guards, ranges []string
			var seen = map[parse.IDSpan]bool{}
			for _, e := range p.edits {
				guards = append(guards, "grep -qxF "+ShellQuote(e.line)+" "+p.file)
				for _, rm := range e.removed {
					if !seen[rm] {
						seen[rm] = true
						ranges = append(ranges, fmt.Sprintf("--del-%s %d-%d", p.flag, rm.First, rm.Last))
					}
				}
			}
			s.Commands = append(s.Commands, fmt.Sprintf("if %s; then usermod %s %s; fi", strings.Join(guards, " || "), strings.Join(ranges, " "), ShellQuote(user)))
		} else {
			s.Commands = append(s.Commands, fmt.Sprintf(`[ -z "$(tail -c 1 %[1]s)" ] || echo >>%[1]s`, p.file))
			for _, e := range p.edits {
				s.Commands = append(s.Commands, fmt.Sprintf("if grep -qxF %s %s; then sed -i %s %s; fi", ShellQuote(e.line), p.file, ShellQuote("/^"+sedQuote(e.line)+"$/d"), p.file))
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
			args = append(args, fmt.Sprintf("--add-%s %d-%d", p.flag, p.span.First, p.span.Last))
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
	// Ansible: lineinfile is idempotent by itself and in ansible-core. A range is computed
	// on each host the playbook runs on (freeRangeAwk), for the account of that host, unless
	// the plan cuts an overlapping range first: those edits name this host's lines, and the
	// range computed here is then checked free on the host (freeCheck) and written as is.
	for _, p := range parts {
		if len(p.edits) == 0 {
			reg := "rootless_doctor_" + varName(id) + "_" + p.flag
			s.tasks = append(s.tasks,
				Task{Name: fmt.Sprintf("Find where %d subordinate %s for %s can start in %s", w.count, p.flag[3:], ref, p.file),
					Module: "ansible.builtin.command", Args: []Arg{{"argv", freeRangeArgv(p.file, p.ids, p.flag, ref, w.count)}},
					Register: reg, Query: true, ChangedWhenFalse: true},
				Task{Name: fmt.Sprintf("Give %s %d subordinate %s in %s", ref, w.count, p.flag[3:], p.file), Module: "ansible.builtin.lineinfile",
					Args: []Arg{{"path", p.file}, {"line", fmt.Sprintf("%s:{{ %s.stdout }}:%d", ref, reg, w.count)}, {"create", true},
						{"owner", "root"}, {"group", "root"}, {"mode", "0644"}},
					When: reg + `.stdout != "have"`})
			continue
		}
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

// varName makes a step id a playbook variable name.
func varName(id string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(id))
}

// freeRangeArgv is the argv of the query that finds, on the host the playbook runs on, where
// count ids for user can start in file (freeRangeAwk).
func freeRangeArgv(file, ids, flag, user string, count int64) []string {
	kind := "UID"
	if flag == "subgids" {
		kind = "GID"
	}
	return []string{"awk", "-v", "user=" + user, "-v", fmt.Sprintf("count=%d", count), "-v", "kind=" + kind,
		"-v", "defs=/etc/login.defs", "-v", "file=" + file, "-v", "ids=" + ids, freeRangeAwk}
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
const freeAwk = numAwk + `FILENAME == ids { if ($3 + 0 >= lo && $3 + 0 <= hi) bad = bad " " $1; next } ` +
	`{ sub(/\r$/, "") } ` +
	`$1 != u && $1 != id && $1 !~ /^[-+]/ && NF >= 3 && $1 != "" && $2 != "" && $3 != "" && length($0) < 1024 { ` +
	`s = num($2); c = num($3); if (s >= 0 && s <= hi && (c == -2 || c > 0 && s + c - 1 >= lo)) bad = bad " " $1 } ` +
	`END { if (bad != "") { print "rootless-doctor: " lo "-" hi " is not free on this machine (used by" bad "): run rootless-doctor fix here"; exit 1 } }`

// numAwk is num(s): a field of a subid file read as shadow reads it (see freeAwk), -1 when it
// is no number, -2 for a negative one.
const numAwk = `function num(s,  n, i, b, neg) { sub(/^[ \t\n\v\f\r]+/, "", s); neg = 0; ` +
	`if (s ~ /^[-+]/) { neg = substr(s, 1, 1) == "-"; s = substr(s, 2) } ` +
	`if (s ~ /^0[xX][0-9a-fA-F]+$/) { b = 16; s = substr(s, 3) } else if (s ~ /^0[0-7]*$/) b = 8; else if (s ~ /^[1-9][0-9]*$/) b = 10; else return -1; ` +
	`n = 0; for (i = 1; i <= length(s); i++) { n = n * b + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1; if (n > 18446744073709551615) return -1 } ` +
	`if (neg && n > 0) return -2; return n } `

// freeRangeAwk prints where a new range of count ids for user can start in file, on the host
// it runs on — the Ansible form computes the range there, not where the plan was made, so one
// playbook is right on every host of a group (issue 15). It prints "have" when user already
// has a line of count ids or more (the task after it then changes nothing); else the lowest
// start at or above SUB_<kind>_MIN of login.defs (default 100000) whose range overlaps no
// line of the file (every owner's, read as shadow reads them: num, and the skipping rules of
// freeAwk) and holds no real id of ids (/etc/passwd or /etc/group), ending at or below
// SUB_<kind>_MAX (default 600100000), shadow's own defaults (lib/subordinateio.c). None: exit
// 1, saying so. Everything is read with getline in BEGIN, so a missing login.defs or subid
// file reads as empty.
const freeRangeAwk = numAwk + `BEGIN { min = 100000; max = 600100000; n = 0; ` +
	`while ((getline l < defs) > 0) { split(l, w, /[ \t]+/); if (w[1] == "SUB_" kind "_MIN" && w[2] ~ /^[0-9]+$/) min = w[2] + 0; if (w[1] == "SUB_" kind "_MAX" && w[2] ~ /^[0-9]+$/) max = w[2] + 0 } ` +
	`while ((getline l < file) > 0) { sub(/\r$/, "", l); k = split(l, f, ":"); if (k < 3 || f[1] == "" || f[1] ~ /^[-+]/ || length(l) >= 1024) continue; ` +
	`s = num(f[2]); c = num(f[3]); if (s < 0 || c == -1 || c == 0) continue; if (f[1] == user && c >= count) { print "have"; exit 0 } ` +
	`n++; lo[n] = s; hi[n] = (c == -2) ? 18446744073709551615 : s + c - 1 } ` +
	`while ((getline l < ids) > 0) { k = split(l, f, ":"); if (k >= 3 && f[3] ~ /^[0-9]+$/) { n++; lo[n] = f[3] + 0; hi[n] = lo[n] } } ` +
	`start = min; do { moved = 0; for (i = 1; i <= n; i++) if (lo[i] <= start + count - 1 && hi[i] >= start) { start = hi[i] + 1; moved = 1 } } while (moved); ` +
	`if (start + count - 1 > max) { print "rootless-doctor: no free range of " count " ids in " file " between " min " and " max > "/dev/stderr"; exit 1 } ` +
	`print start; exit 0 }`

// freeCheck is the argv of the check that the parse.IDSpan is still free in file (other owners'
// ranges) and ids (/etc/passwd or /etc/group: real ids).
func freeCheck(file, ids string, sp parse.IDSpan, user, uid string) []string {
	return []string{"awk", "-F:", "-v", fmt.Sprintf("lo=%d", sp.First), "-v", fmt.Sprintf("hi=%d", sp.Last),
		"-v", "u=" + user, "-v", "id=" + uid, "-v", "ids=" + ids, freeAwk, file, ids}
}

func lineTask(file, line string) Task {
	return Task{Name: "Add " + line + " to " + file, Module: "ansible.builtin.lineinfile", Args: []Arg{
		{"path", file}, {"line", line}, {"create", true}, {"owner", "root"}, {"group", "root"}, {"mode", "0644"},
	}}
}

// sedQuote escapes what is special in a sed basic regular expression between slashes, so
// "john.doe:1:2" matches no "johnXdoe:1:2".
func sedQuote(s string) string {
	return strings.NewReplacer(`\`, `\\`, ".", `\.`, "$", `\$`, "*", `\*`, "[", `\[`, "^", `\^`, "/", `\/`).Replace(s)
}

// regexpQuote escapes the characters a subid line may hold that are special in Python's re.
func regexpQuote(s string) string {
	return strings.NewReplacer("$", `\$`, ".", `\.`).Replace(s)
}
