package fixes

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// The free-range allocator for subordinate ids.
//
// Docker's and Podman's docs tell people to run `usermod --add-subuids 100000-165535`, and
// that range is exactly the one useradd gives the first user: on any host with a second
// account, or with directory users whose uids start at 100000 (FreeIPA, AD via SSSD), the
// copied line overlaps someone else's ids, and containers of two users can then read and
// write each other's files. So the planner computes the range the way useradd does
// (shadow-utils lib/subordinateio.c, find_free_range) and stricter: the lowest range of the
// requested size inside SUB_UID_MIN..SUB_UID_MAX of /etc/login.defs that meets no line of
// /etc/subuid or /etc/subgid (malformed lines included, as far as their numbers parse), no
// real uid or gid in /etc/passwd and /etc/group, and not the user's own uid. The same start
// is used for uids and gids when one exists, so ids line up in both maps.

// maxID is the highest id that can be handed out: ids are 32-bit and 4294967295 is
// (uid_t)-1, "no id" to setresuid(2), which shadow-utils never allocates.
const maxID int64 = parse.MaxID

// subIDLine is one entry of /etc/subuid or /etc/subgid as the allocator sees it: a valid
// range or a malformed line (parse.ParseSubIDs decides which, reading numbers as shadow
// does), in file order.
type subIDLine struct {
	line int // 1-based
	// raw is the line as it is in the file, without the newline.
	raw   string
	owner string
	// valid: a range shadow reads and the kernel can map (parse.ParseSubIDs), START and
	// COUNT as shadow reads them ("0303240" is 100000).
	valid        bool
	start, count int64
	// ok: valid and written exactly as "OWNER:START:COUNT" in decimal (no blanks, no CR, no
	// leading zeros), so that its text can be found and edited with grep -x and sed. Only ok
	// lines are edited.
	ok bool
	// claims is what the line may take from the id space to any tool, even when it is
	// malformed (parse.SubIDRange.Claims, parse.BadLine.Claims): a line whose start parses but
	// whose count does not still keeps its start id out of reach, a CRLF line is one `tr -d`
	// from valid, and a line written with leading zeros is read in octal by shadow and in
	// decimal by Go readers.
	claims []parse.IDSpan
	// repaired is the range of a line whose only fault is a CRLF line end, as it will be once
	// the crlf step (which runs first) removes the CR; nil otherwise.
	repaired *parse.IDSpan
}

// subIDLines reads subuid(5) text with parse.ParseSubIDs, the parser the idmap probes use,
// so the planner and the probes agree on which lines are valid. It never fails: blank lines
// are skipped, malformed lines are kept (with valid false) so their ids are still avoided,
// and so are the ids of '#' lines, which shadow reads as entries of an owner "#…"
// (useradd's find_free_range steps around them). nul reports a NUL byte, after which no
// reading of the file can be trusted (see parse.SubIDs.NUL).
func subIDLines(data []byte) (lines []subIDLine, nul bool) {
	parsed := parse.ParseSubIDs(data)
	raws := strings.Split(string(data), "\n") // line n is raws[n-1], as in ParseSubIDs
	spans := func(c []parse.IDSpan) []parse.IDSpan {
		out := make([]parse.IDSpan, 0, len(c))
		for _, x := range c {
			out = append(out, parse.IDSpan{First: x.First, Last: x.Last})
		}
		return out
	}
	out := make([]subIDLine, 0, len(parsed.Ranges)+len(parsed.Bad)+1)
	for _, r := range parsed.Ranges {
		raw := raws[r.Line-1]
		out = append(out, subIDLine{
			line: r.Line, raw: raw, owner: r.Owner, valid: true, start: r.Start, count: r.Count,
			ok:     raw == fmt.Sprintf("%s:%d:%d", r.Owner, r.Start, r.Count),
			claims: spans(r.Claims()),
		})
	}
	for _, b := range parsed.Bad {
		l := subIDLine{line: b.Line, raw: raws[b.Line-1], owner: b.Owner, claims: spans(b.Claims())}
		if b.Repaired != nil {
			l.repaired = &parse.IDSpan{First: b.Repaired.Start, Last: b.Repaired.End()}
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(x, y subIDLine) int { return cmp.Compare(x.line, y.line) })
	if len(parsed.Commented) > 0 {
		out = append(out, subIDLine{claims: spans(parsed.Commented)})
	}
	return out, parsed.NUL
}

// span is the line's range (valid lines only).
func (l subIDLine) span() parse.IDSpan {
	return parse.IDSpan{First: l.start, Last: l.start + l.count - 1}
}

// limits are the SUB_UID_* (or SUB_GID_*) settings of /etc/login.defs.
type limits struct{ min, max, count int64 }

// limitsFor reads SUB_UID_MIN/MAX/COUNT (prefix "SUB_UID") or the SUB_GID ones with
// parse.LoginDefs.SubIDLimits (shadow's defaults for missing or unparseable values), clipped
// to the id space: 0 is root's and never a subordinate id.
func limitsFor(defs parse.LoginDefs, prefix string) (limits, []string) {
	l := defs.SubIDLimits(prefix)
	var notes []string
	for _, p := range l.Problems {
		notes = append(notes, "/etc/login.defs: "+p)
	}
	return limits{max(l.Min, 1), min(l.Max, maxID), l.Count}, notes
}

// idFacts is what the allocator reads from the host.
type idFacts struct {
	subuid, subgid []subIDLine
	uidLim, gidLim limits
	realUIDs       []int64
	realGIDs       []int64
	uidOf          map[string]int64 // passwd name → uid
	notes          []string
	// problem is set when a file the allocator must know (subuid, subgid, passwd, group)
	// exists but cannot be read: allocating blind could hand out someone's ids.
	problem string
}

// readIDFacts reads /etc/subuid, /etc/subgid, /etc/login.defs, /etc/passwd and /etc/group.
// A missing file is empty; any other read error sets problem.
func readIDFacts(h host.Host) idFacts {
	f := idFacts{uidOf: map[string]int64{}}
	var problems []string
	read := func(p string) []byte {
		data, err := h.ReadFile(p)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				problems = append(problems, fmt.Sprintf("reading %s: %v", p, err))
			}
			return nil
		}
		return data
	}
	var nulUID, nulGID bool
	f.subuid, nulUID = subIDLines(read("/etc/subuid"))
	f.subgid, nulGID = subIDLines(read("/etc/subgid"))
	for _, x := range []struct {
		nul  bool
		path string
	}{{nulUID, "/etc/subuid"}, {nulGID, "/etc/subgid"}} {
		if x.nul {
			problems = append(problems, x.path+" holds a NUL byte, which shadow reads in ways that depend on its version and buffer sizes")
		}
	}
	for _, line := range strings.Split(string(read("/etc/passwd")), "\n") {
		fields := strings.Split(strings.TrimSpace(line), ":")
		if len(fields) < 4 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if uid, ok := parse.Decimal(fields[2]); ok && uid <= maxID {
			f.realUIDs = append(f.realUIDs, uid)
			if _, seen := f.uidOf[fields[0]]; !seen {
				f.uidOf[fields[0]] = uid
			}
		}
		if gid, ok := parse.Decimal(fields[3]); ok && gid <= maxID {
			f.realGIDs = append(f.realGIDs, gid)
		}
	}
	for _, line := range strings.Split(string(read("/etc/group")), "\n") {
		fields := strings.Split(strings.TrimSpace(line), ":")
		if len(fields) < 3 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if gid, ok := parse.Decimal(fields[2]); ok && gid <= maxID {
			f.realGIDs = append(f.realGIDs, gid)
		}
	}
	defs := parse.ParseLoginDefs(read("/etc/login.defs"))
	var n1, n2 []string
	f.uidLim, n1 = limitsFor(defs, "SUB_UID")
	f.gidLim, n2 = limitsFor(defs, "SUB_GID")
	f.notes = append(n1, n2...)
	f.problem = strings.Join(problems, "; ")
	return f
}

// subIDWant is what the merged SubIDs intents ask for one user.
type subIDWant struct {
	user       string
	uids, gids bool
	count      int64
	removeUID  []parse.IDSpan
	removeGID  []parse.IDSpan
	// keepUID / keepGID are ranges listed twice, to leave on one line (subIDDedupe); they
	// need no fresh range, and uids / gids say only which maps get one.
	keepUID, keepGID []parse.IDSpan
}

// subIDAlloc is the allocator's answer for one user.
type subIDAlloc struct {
	want     subIDWant
	uid      int64 // the user's uid, -1 when unknown
	uidStart int64 // valid when want.uids
	gidStart int64 // valid when want.gids
	// editsUID / editsGID are the lines to take out of each file before adding, with what
	// is left of each once the remove ranges are cut away.
	editsUID []lineEdit
	editsGID []lineEdit
	// failure says why no range could be found (then nothing else is valid).
	failure string
}

// lineEdit replaces one line of a subid file by the pieces that remain.
type lineEdit struct {
	line    string         // exact line to remove
	removed []parse.IDSpan // the remove ranges that meet it
	keep    []string       // lines to add back (the parts outside the remove ranges)
}

// allocator hands out ranges, remembering what it gave so two users in one plan do not
// get the same ids.
type allocator struct {
	facts   idFacts
	usedUID []parse.IDSpan
	usedGID []parse.IDSpan
}

func newAllocator(f idFacts) *allocator {
	a := &allocator{facts: f}
	for _, l := range f.subuid {
		a.usedUID = append(a.usedUID, l.claims...)
	}
	for _, l := range f.subgid {
		a.usedGID = append(a.usedGID, l.claims...)
	}
	for _, id := range f.realUIDs {
		a.usedUID = append(a.usedUID, parse.IDSpan{First: id, Last: id})
	}
	for _, id := range f.realGIDs {
		a.usedGID = append(a.usedGID, parse.IDSpan{First: id, Last: id})
	}
	return a
}

// allocate finds ranges for w. Ranges listed for removal stay in the used set: they
// overlap someone else's ids, which are still in use, and ids the user held before may
// still own files on disk.
func (a *allocator) allocate(w subIDWant, uid int64) subIDAlloc {
	r := subIDAlloc{want: w, uid: uid}
	usedUID, usedGID := slices.Clone(a.usedUID), slices.Clone(a.usedGID)
	if uid >= 0 {
		usedUID = append(usedUID, parse.IDSpan{First: uid, Last: uid})
		usedGID = append(usedGID, parse.IDSpan{First: uid, Last: uid})
	}
	uidLim, gidLim := a.facts.uidLim, a.facts.gidLim
	found := false
	// 1. One start free in both maps, inside both limits.
	if w.uids && w.gids {
		lo, hi := max(uidLim.min, gidLim.min), min(uidLim.max, gidLim.max)
		if s, ok := parse.FindFree(append(slices.Clone(usedUID), usedGID...), lo, hi, w.count); ok {
			r.uidStart, r.gidStart, found = s, s, true
		}
	}
	// 2. Only one map wanted: mirror the user's range in the other map when it is free.
	if !found && w.uids != w.gids {
		other, used, lim := a.facts.subgid, usedUID, uidLim
		if w.gids {
			other, used, lim = a.facts.subuid, usedGID, gidLim
		}
		for _, l := range other {
			if !l.valid || !a.owns(l, w.user, uid) || l.count < w.count || l.start < lim.min {
				continue
			}
			if s, ok := parse.FindFree(used, l.start, lim.max, w.count); ok && s == l.start {
				r.uidStart, r.gidStart, found = s, s, true
				break
			}
		}
	}
	// 3. Each map on its own.
	if !found {
		if w.uids {
			s, ok := parse.FindFree(usedUID, uidLim.min, uidLim.max, w.count)
			if !ok {
				r.failure = fmt.Sprintf("no free range of %d subordinate uids between SUB_UID_MIN %d and SUB_UID_MAX %d", w.count, uidLim.min, uidLim.max)
				return r
			}
			r.uidStart = s
		}
		if w.gids {
			s, ok := parse.FindFree(usedGID, gidLim.min, gidLim.max, w.count)
			if !ok {
				r.failure = fmt.Sprintf("no free range of %d subordinate gids between SUB_GID_MIN %d and SUB_GID_MAX %d", w.count, gidLim.min, gidLim.max)
				return r
			}
			r.gidStart = s
		}
	}
	if w.uids {
		s, _ := parse.SpanOf(r.uidStart, w.count)
		a.usedUID = append(a.usedUID, s)
		r.editsUID = a.edits(a.facts.subuid, w.user, uid, w.removeUID)
	}
	if w.gids {
		s, _ := parse.SpanOf(r.gidStart, w.count)
		a.usedGID = append(a.usedGID, s)
		r.editsGID = a.edits(a.facts.subgid, w.user, uid, w.removeGID)
	}
	return r
}

// owns reports whether a line belongs to the user: subuid(5) owners are a name or a uid
// (uid -1: unknown, matched by name only).
func (a *allocator) owns(l subIDLine, user string, uid int64) bool {
	if uid < 0 {
		return l.owner != "" && l.owner == user
	}
	return parse.OwnerIs(l.owner, user, int(uid))
}

// edits lists the user's lines that meet a remove range, with the pieces that survive.
func (a *allocator) edits(lines []subIDLine, user string, uid int64, remove []parse.IDSpan) []lineEdit {
	var out []lineEdit
	for _, l := range lines {
		if !l.ok || !a.owns(l, user, uid) {
			continue
		}
		e := lineEdit{line: l.raw}
		pieces := []parse.IDSpan{l.span()}
		for _, rm := range remove {
			if !rm.Overlaps(l.span()) {
				continue
			}
			e.removed = append(e.removed, rm)
			var next []parse.IDSpan
			for _, p := range pieces {
				next = append(next, p.Minus(rm)...)
			}
			pieces = next
		}
		if len(e.removed) == 0 {
			continue
		}
		for _, p := range pieces {
			e.keep = append(e.keep, fmt.Sprintf("%s:%d:%d", l.owner, p.First, p.Count()))
		}
		out = append(out, e)
	}
	return out
}

// parseRange reads a "START-END" remove range.
func parseRange(s string) (parse.IDSpan, bool) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return parse.IDSpan{}, false
	}
	lo, ok1 := parse.Decimal(a)
	hi, ok2 := parse.Decimal(b)
	if !ok1 || !ok2 || lo > hi || hi > maxID {
		return parse.IDSpan{}, false
	}
	return parse.IDSpan{First: lo, Last: hi}, true
}

// subIDDedupe is how a range the account lists on more than one line is left on one: the
// first line stays (the account's container storage was mapped with the range when it was
// listed once, and engines map ranges in file order), the later copies go. Removing the range
// and giving a fresh one would leave every file the account's containers own unmapped (issue
// 10).
type subIDDedupe struct {
	span      parse.IDSpan
	first     string // the text of the line that stays, as it is once the crlf step ran
	firstLine int
	// again: the first line's text is repeated; all but its first occurrence go.
	again bool
	// others are the distinct texts of later copies written otherwise (the uid as owner,
	// octal numbers); they go as long as the first line is there.
	others []string
	// stuck are later copies a script cannot edit safely (blanks in a number): by hand.
	stuck []int
}

// dedupeLine is the text a script may match a subid line with exactly (grep -x, sed):
// the owner (the account's name or uid) and two numbers as shadow reads them.
var dedupeLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9._-]+[$]?:[0-9A-Za-z+]+:[0-9A-Za-z+]+$`) })

// dedupes finds, for each span of keep, the account's lines that hold exactly it (valid
// lines, and lines whose only fault is a CR, as the crlf step leaves them), when there is
// more than one.
func (a *allocator) dedupes(lines []subIDLine, user string, uid int64, keep []parse.IDSpan) []subIDDedupe {
	var out []subIDDedupe
	for _, sp := range keep {
		var d subIDDedupe
		n := 0
		for _, l := range lines {
			text, span := l.raw, l.span()
			switch {
			case l.valid:
			case l.repaired != nil:
				text, span = strings.TrimRight(l.raw, "\r"), *l.repaired
			default:
				continue
			}
			if span != sp || !a.owns(l, user, uid) {
				continue
			}
			n++
			switch {
			case n == 1:
				d.span, d.first, d.firstLine = sp, text, l.line
			case !dedupeLine().MatchString(text) || !dedupeLine().MatchString(d.first):
				d.stuck = append(d.stuck, l.line)
			case text == d.first:
				d.again = true
			case !slices.Contains(d.others, text):
				d.others = append(d.others, text)
			}
		}
		if n > 1 {
			out = append(out, d)
		}
	}
	return out
}
