package checks

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/user"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

// This file holds what idmap.subuid and idmap.subgid share: the two probes run the same
// logic over /etc/subuid and /etc/subgid.

// subIDKind is what differs between the uid and the gid probe.
type subIDKind struct {
	id     string   // probe id
	word   string   // "uid" or "gid": the intent's map, the wording
	file   string   // /etc/subuid or /etc/subgid
	idFile string   // /etc/passwd or /etc/group: ids real accounts or groups hold
	defs   string   // login.defs prefix: SUB_UID or SUB_GID
	idMap  string   // uid_map or gid_map under /proc/PID
	flags  []string // for getsubids
}

// ownID is the account's id that rootless engines map to root in the namespace: its uid, or
// its primary gid.
func (k subIDKind) ownID(a facts.Account) int {
	if k.word == "uid" {
		return a.UID
	}
	return a.GID
}

// realIDs reads the names and ids of idFile. A garbled line ends the reading (moby/sys/user
// stops at a scanner error); what was read before still counts.
func (k subIDKind) realIDs(data []byte) []namedID {
	var ids []namedID
	r := bytes.NewReader(data)
	if k.word == "uid" {
		_, _ = user.ParsePasswdFilter(r, func(u user.User) bool { ids = append(ids, namedID{u.Name, int64(u.Uid)}); return false })
	} else {
		_, _ = user.ParseGroupFilter(r, func(g user.Group) bool { ids = append(ids, namedID{g.Name, int64(g.Gid)}); return false })
	}
	return ids
}

type namedID struct {
	name string
	id   int64
}

// subIDProbe builds the probe for one kind.
func subIDProbe(k subIDKind) Probe {
	return Probe{
		ID:    k.id,
		Title: "Subordinate " + k.word + "s",
		Fails: fmt.Sprintf("no range; fewer than 65,536 ids; malformed lines; own %[1]s inside the range; overlapping lines; a symlink; outside the parent namespace's map; overlap with another account or real %[1]ss (warn)", k.word),
		Why: fmt.Sprintf("In a rootless user namespace the account's own %[1]s becomes root and the other "+
			"%[1]ss an image uses (up to 65534 and beyond) come from the account's subordinate %[1]s "+
			"ranges in %[2]s, mapped by new%[1]smap. No range means no mapping (\"No subuid ranges found\"); "+
			"fewer than 65536 ids make image pulls fail with \"lchown: invalid argument\"; a range that "+
			"overlaps another account's or a real %[1]s lets containers own that account's files.", k.word, k.file),
		Reads: []string{k.file, "/etc/nsswitch.conf (the subid: line)", "libsubid_NAME.so in the library directories (/etc/ld.so.conf)", "`getsubids` when a libsubid module serves the ranges",
			k.idFile, "/etc/login.defs (" + k.defs + "_MIN/MAX)", "the id maps of a running Podman pause process or rootless dockerd"},
		Fixes: []finding.Kind{finding.CRLF, finding.SubIDs, finding.Package, finding.Manual},
		Run:   k.run,
	}
}

func (k subIDKind) run(ctx context.Context, e *facts.Env) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	src := e.SubIDSource()
	if src.Module == "" {
		return k.fromFile(e)
	}
	if lib, searched := moduleLibrary(e, src.Module); lib == "" && len(searched) > 0 {
		// shadow's nss_init cannot dlopen the module, says "Error opening libsubid_NAME.so …
		// Using files" and reads /etc/subuid and /etc/subgid after all (lib/nss.c): judge
		// those, and say that the directory's ranges are not used.
		r := k.fromFile(e)
		r = r.With(fmt.Sprintf("/etc/nsswitch.conf:%d", src.Line.Line), src.Line.Text)
		msg := fmt.Sprintf("/etc/nsswitch.conf names the subid module %q, but libsubid_%s.so is not installed (looked in %s): shadow falls back to %s", src.Module, src.Module, strings.Join(searched, ", "), k.file)
		if r.Status == finding.Pass {
			r = r.WithStatus(finding.Warn, "%s; %s", msg, r.Summary)
		} else {
			r = r.Detail("%s.", msg)
		}
		return r.Fix(finding.ManualStep("subid-module", fmt.Sprintf("install the libsubid module %q (SSSD built with subid support ships libsubid_sss.so) or remove the subid: line of /etc/nsswitch.conf", src.Module)))
	}
	return k.fromModule(ctx, e, src)
}

// moduleLibrary looks for libsubid_MODULE.so where dlopen(3) looks for a name without a
// slash: the directories of /etc/ld.so.conf (and its includes), which ldconfig caches, and
// the default ones. searched lists the directories that could be listed; when it is empty
// (a recorded tree without them) nothing can be said, and lib is "" as well. A name with a
// slash is a path to dlopen: it is not judged here (searched is empty).
func moduleLibrary(e *facts.Env, module string) (lib string, searched []string) {
	if strings.Contains(module, "/") {
		return "", nil
	}
	dirs := ldConfDirs(e, "/etc/ld.so.conf", 0)
	dirs = append(dirs, "/lib64", "/usr/lib64", "/lib", "/usr/lib")
	seen := map[string]bool{}
	for _, d := range dirs {
		if seen[d] {
			continue
		}
		seen[d] = true
		if _, err := e.Host.ReadDir(d); err != nil {
			continue
		}
		searched = append(searched, d)
		p := d + "/libsubid_" + module + ".so"
		if fi, err := e.Host.Stat(p); err == nil && fi.Mode.IsRegular() {
			return p, searched
		}
	}
	return "", searched
}

// ldConfDirs reads the directories of an ld.so.conf file: one a line, '#' comments, and
// "include GLOB" lines (depth-limited).
func ldConfDirs(e *facts.Env, file string, depth int) []string {
	data, err := e.Host.ReadFile(file)
	if err != nil || depth > 4 {
		return nil
	}
	var dirs []string
	for _, l := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		l = strings.TrimSpace(l)
		if glob, ok := strings.CutPrefix(l, "include"); ok && glob != "" && (glob[0] == ' ' || glob[0] == '\t') {
			glob = strings.TrimSpace(glob)
			if !strings.HasPrefix(glob, "/") {
				glob = path.Dir(file) + "/" + glob
			}
			entries, err := e.Host.ReadDir(path.Dir(glob))
			if err != nil {
				continue
			}
			for _, en := range entries {
				if ok, _ := path.Match(path.Base(glob), en.Name()); ok {
					dirs = append(dirs, ldConfDirs(e, path.Dir(glob)+"/"+en.Name(), depth+1)...)
				}
			}
			continue
		}
		if strings.HasPrefix(l, "/") {
			dirs = append(dirs, path.Clean(l))
		}
	}
	return dirs
}

// fromFile judges the account's ranges in /etc/subuid or /etc/subgid.
func (k subIDKind) fromFile(e *facts.Env) finding.Result {
	u := e.User
	data, err := e.Host.ReadFile(k.file)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return finding.Undecided(err, "cannot read %s", k.file)
	}
	f := parse.ParseSubIDs(data)
	own, ownBad := f.Owned(u.Name, u.UID)
	j := newSubIDJudge(k, e)
	if !missing {
		j.judgeFile()
	}
	// A line whose only fault is a CRLF line end is judged as the range it holds once the CR
	// is gone (the crlf step runs before subid.add): asking for a fresh range as well would
	// leave the account two.
	var crOwn []parse.SubIDRange
	ownBad = slices.DeleteFunc(ownBad, func(b parse.BadLine) bool {
		if b.Repaired != nil {
			crOwn = append(crOwn, *b.Repaired)
		}
		return b.Repaired != nil
	})
	for i, r := range own {
		if i == maxEvidence {
			j.r = j.r.With(k.file, fmt.Sprintf("… and %d more lines of %s", len(own)-i, u.Name))
			break
		}
		j.r = j.r.With(k.lineSource(r.Line), r.Text)
	}
	for i, b := range ownBad {
		if i < maxEvidence {
			j.r = j.r.With(k.lineSource(b.Line), b.Text)
		}
		j.problem(finding.Fail, "line %d of %s, an entry of %s, %s", b.Line, k.file, u.Name, b.Reason)
		j.badLines = append(j.badLines, b.Line)
	}
	j.judgeCRLF(f, crOwn)
	if len(crOwn) > 0 {
		own = append(own, crOwn...)
		slices.SortFunc(own, func(a, b parse.SubIDRange) int { return cmp.Compare(a.Line, b.Line) })
	}
	j.judgeNumbers(own)
	switch {
	case len(own) == 0 && missing:
		j.problem(finding.Fail, "%s does not exist, so %s has no subordinate %ss", k.file, u.Name, k.word)
	case len(own) == 0:
		j.problem(finding.Fail, "%s has no subordinate %s range in %s", u.Name, k.word, k.file)
	}
	if len(own) == 0 {
		j.fresh = true
		j.detail("RootlessKit then stops with \"No sub%s ranges found for user %d (%q)\" and Podman maps a single id (rootless-containers/rootlesskit#470). Accounts made with `useradd -r`, by tools that skip subordinate ids, or by a directory service get none (shadow-maint/shadow#539).", k.word, u.UID, u.Name)
	}
	j.judgeOwn(own)
	// Past the kernel's extent limit (reported by judgeOwn) the rest cannot be mapped
	// anyway; capping keeps a hostile file from making the pairwise checks slow.
	checked := own[:min(len(own), maxExtents)]
	j.judgeOthers(f, checked)
	j.noteLimits(checked)
	j.checkStale(own)
	return j.result(own, "")
}

// judgeFile checks the file itself. shadow opens /etc/subuid and /etc/subgid with O_NOFOLLOW
// (lib/commonio.c, commonio_open, since 2010), so newuidmap, newgidmap and getsubids stop at a
// symbolic link there ("cannot open /etc/subuid: Too many levels of symbolic links") while
// engines that read the file themselves see the ranges behind it and call newuidmap anyway
// (rootless-containers/rootlesskit#259, podman-container-tools/podman#13751;
// docs/failures/catalogue.json#subid-file-is-symlink). A file another account may write lets
// that account give itself any ids, a warning.
func (j *subIDJudge) judgeFile() {
	k := j.k
	fi, err := j.e.Host.Lstat(k.file)
	if err != nil {
		return
	}
	if fi.Mode&fs.ModeSymlink != 0 {
		target := "elsewhere"
		if t, err := j.e.Host.EvalSymlinks(k.file); err == nil {
			target = finding.Clip(t, 200)
		}
		j.r = j.r.With(k.file, "symbolic link to "+target)
		j.problem(finding.Fail, "%s is a symbolic link (to %s): new%smap opens it with O_NOFOLLOW and refuses it", k.file, target, k.word)
		j.detail("Engines that read %s themselves see the ranges behind the link, call new%smap, and fail with \"new%smap: cannot open %s: Too many levels of symbolic links\" (rootless-containers/rootlesskit#259). Distribute the file as a regular file, or serve the ranges through SSSD (subid: sss in /etc/nsswitch.conf).", k.file, k.word, k.word, k.file)
		j.intents = append(j.intents, finding.ManualStep("subid-file-"+k.word, fmt.Sprintf(
			"replace the symbolic link %[1]s with a regular file owned by root with mode 0644 holding the same lines: cp --remove-destination \"$(readlink -f %[1]s)\" %[1]s && chown root:root %[1]s && chmod 0644 %[1]s", k.file)))
		return
	}
	if fi.Mode.IsRegular() && (fi.UID != 0 || fi.Mode.Perm()&0o022 != 0) {
		j.r = j.r.With(k.file, fmt.Sprintf("owner=%d mode=%04o", fi.UID, fi.Mode.Perm()))
		j.problem(finding.Warn, "%s (owner uid %d, mode %04o) can be written by an account other than root, which can then give itself any %ss through new%smap", k.file, fi.UID, fi.Mode.Perm(), k.word, k.word)
		j.intents = append(j.intents, finding.ManualStep("subid-file-"+k.word, fmt.Sprintf("make %[1]s owned by root with mode 0644: chown root:root %[1]s && chmod 0644 %[1]s", k.file)))
	}
}

// judgeCRLF reports lines that end in a carriage return (a file written on Windows or
// through a tool that kept CRLF line ends). shadow cuts only the '\n' off each line
// (lib/commonio.c) and reads "65536\r" with strtoul, which stops at the CR, so getulong
// rejects the count and the line is skipped: getsubids lists nothing, newuidmap refuses and
// the live proof fails, while Go readers that trim lines (moby/sys/user, RootlessKit without
// getsubids) see the range. crOwn are the account's lines whose only fault is the CR.
func (j *subIDJudge) judgeCRLF(f parse.SubIDs, crOwn []parse.SubIDRange) {
	k, u := j.k, j.e.User
	n := 0
	for _, b := range f.Bad {
		if b.CR {
			n++
		}
	}
	if n == 0 {
		return
	}
	j.intents = append(j.intents, finding.StripCR(k.file, fmt.Sprintf("%s has CRLF line ends, which shadow reads as garbage after the count", k.file)))
	if len(crOwn) == 0 {
		return // others' CR lines are reported with the other malformed lines
	}
	var lines, ranges []string
	for i, r := range crOwn {
		if i < maxEvidence {
			j.r = j.r.With(k.lineSource(r.Line), r.Text)
		}
		lines = append(lines, strconv.Itoa(r.Line))
		ranges = append(ranges, r.String())
	}
	which := "line " + lines[0] + " of " + u.Name + "'s ranges ends"
	if len(lines) > 1 {
		which = "lines " + strings.Join(lines, ", ") + " of " + u.Name + "'s ranges end"
	}
	j.problem(finding.Fail, "%s has CRLF line ends: %s in a carriage return, which shadow reads as garbage after the count, so getsubids and newuidmap skip %s", k.file, which, strings.Join(ranges, ", "))
	j.detail("%d line(s) of %s end in a carriage return. Removing the CRs (sed -i 's/\\r$//' %s) makes them the ranges shown; Go readers that trim lines already read them so, which is why some tools see a range that newuidmap refuses.", n, k.file, k.file)
}

// judgeNumbers explains the account's ranges whose numbers are not written in plain decimal.
// shadow reads them with strtoul base 0 (lib/getulong.c): "0303240" is octal for 100000 and
// "0x186a0" hex for it. That is what newuidmap allows, so the range is the account's; but a
// reader that takes the numbers as decimal — RootlessKit reading the file itself when
// getsubids is missing (pkg/parent/idtools), moby/sys/user — maps other ids, which newuidmap
// then refuses.
func (j *subIDJudge) judgeNumbers(own []parse.SubIDRange) {
	k := j.k
	_, errGetsubids := j.e.LookPath("getsubids")
	for i, r := range own {
		if r.Note == "" {
			continue
		}
		if i < maxEvidence {
			j.detail("Line %d of %s: %s (shadow reads numbers in C notation), so the range is %s.", r.Line, k.file, r.Note, r)
		}
		if m, ok := r.Misread(); ok && errGetsubids != nil {
			j.problem(finding.Warn, "line %d of %s holds %s as shadow reads it, but RootlessKit without getsubids reads it as decimal, %d-%d, which newuidmap refuses", r.Line, k.file, r, m.First, m.Last)
			j.intents = append(j.intents, finding.InstallTool(string(distro.ToolGetsubids), "engines then read subordinate ids through shadow, which reads octal numbers as octal"))
		}
	}
}

// fromModule judges the ranges a libsubid module (SSSD, FreeIPA) serves. newuidmap then asks
// the module, not the files, so only `getsubids` shows what will be mapped
// (docs/failures/catalogue.json#subid-nss-provider-ignored).
func (k subIDKind) fromModule(ctx context.Context, e *facts.Env, src facts.SubIDSource) finding.Result {
	u := e.User
	j := newSubIDJudge(k, e)
	j.module = src.Module
	j.r = j.r.With(fmt.Sprintf("/etc/nsswitch.conf:%d", src.Line.Line), src.Line.Text)
	exe, err := e.LookPath("getsubids")
	if err != nil {
		return j.r.WithStatus(finding.Fail, "subordinate %ss come from the nsswitch module %q, but getsubids is not installed", k.word, src.Module).
			Detail("newuidmap asks libsubid_%s.so for the ranges. RootlessKit 1.1.0 and later ask getsubids and, without it, read %s, which newuidmap then refuses (rootless-containers/rootlesskit#404, moby/moby#44473).", src.Module, k.file).
			Fix(finding.InstallTool(string(distro.ToolGetsubids), "subordinate ids are served by an nsswitch module that only getsubids can query"))
	}
	// Like RootlessKit's dynamic source (pkg/parent/dynidtools): ask by name and by uid, keep
	// the distinct ranges.
	var own []parse.SubIDRange
	var runErr error
	ran := false
	for _, who := range []string{u.Name, strconv.Itoa(u.UID)} {
		args := append(slices.Clone(k.flags), who)
		out, err := e.Host.Run(ctx, append([]string{exe}, args...)...)
		if err != nil {
			runErr = err
			continue
		}
		ran = true
		source := strings.Join(append([]string{"getsubids"}, args...), " ")
		got := parse.ParseGetsubids(out.Stdout)
		if len(got.Ranges) == 0 {
			j.r = j.r.With(source, fmt.Sprintf("exit %d: %s", out.ExitCode, orNone(strings.TrimSpace(finding.Clip(string(out.Stderr), 200)))))
		}
		for _, r := range got.Ranges {
			if !slices.ContainsFunc(own, func(o parse.SubIDRange) bool { return o.Start == r.Start && o.Count == r.Count }) {
				own = append(own, r)
				j.r = j.r.With(source, r.Text)
			}
		}
	}
	if !ran {
		return finding.Undecided(runErr, "cannot run getsubids for %s", u.Name)
	}
	if len(own) == 0 {
		j.problem(finding.Fail, "the nsswitch module %q has no subordinate %s range for %s", src.Module, k.word, u.Name)
		j.fresh = true
	}
	j.judgeOwn(own)
	j.checkStale(own)
	j.detail("Engines that read %s themselves (RootlessKit before 1.1.0, Podman built without libsubid) do not see these ranges (podman-container-tools/podman#25041).", k.file)
	if u.Source != "/etc/passwd" {
		j.detail("%s has no /etc/passwd entry (found through %s); RootlessKit before 1.1.0 also required one (rootless-containers/rootlesskit#48).", u.Name, orNone(u.Source))
	}
	return j.result(own, fmt.Sprintf(" from the %q module", src.Module))
}

func (k subIDKind) lineSource(line int) string { return fmt.Sprintf("%s:%d", k.file, line) }

// maxExtents is how many lines a uid_map or gid_map takes since Linux 4.15 (5 before;
// user_namespaces(7)).
const maxExtents = 340

// maxEvidence and maxProblems keep a report readable when a file holds thousands of bad
// or overlapping lines.
const (
	maxEvidence = 8
	maxProblems = 8
)

// subIDJudge collects the problems of one account's ranges; the worst becomes the result's
// status and summary, the rest its details.
type subIDJudge struct {
	k        subIDKind
	e        *facts.Env
	r        finding.Result
	status   finding.Status
	summary  string
	rest     []string // summaries of the other problems
	dropped  int      // problems past maxProblems
	details  []string // explanations, after the problems
	remove   []string // the account's ranges a fix must delete first ("START-END")
	removing map[string]bool
	once     []string // the account's ranges listed more than once, to leave on one line
	onceSet  map[string]bool
	fresh    bool   // the account needs a fresh range of parse.MinSubIDs
	badLines []int  // lines of the file a person must correct
	module   string // the libsubid module serving the ranges, "" for the files
	intents  []finding.Intent
}

func newSubIDJudge(k subIDKind, e *facts.Env) *subIDJudge {
	return &subIDJudge{k: k, e: e, status: finding.Pass}
}

func (j *subIDJudge) problem(s finding.Status, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if j.summary == "" || s.Severity() > j.status.Severity() {
		if j.summary != "" {
			j.keep(j.summary)
		}
		j.status, j.summary = s, msg
		return
	}
	j.keep(msg)
}

// keep files a problem that is not the summary.
func (j *subIDJudge) keep(msg string) {
	if len(j.rest) == maxProblems {
		j.dropped++
		return
	}
	j.rest = append(j.rest, msg)
}

func (j *subIDJudge) detail(format string, args ...any) {
	j.details = append(j.details, fmt.Sprintf(format, args...))
}

// replace asks for a fresh range in place of rs.
func (j *subIDJudge) replace(rs ...parse.SubIDRange) {
	j.fresh = true
	if j.removing == nil {
		j.removing = map[string]bool{}
	}
	for _, r := range rs {
		if s := r.String(); !j.removing[s] {
			j.removing[s] = true
			j.remove = append(j.remove, s)
		}
	}
}

// keepOnce asks for the later copies of r to go, the first line staying.
func (j *subIDJudge) keepOnce(r parse.SubIDRange) {
	if j.onceSet == nil {
		j.onceSet = map[string]bool{}
	}
	if s := r.String(); !j.onceSet[s] {
		j.onceSet[s] = true
		j.once = append(j.once, s)
	}
}

// judgeOwn checks what holds wherever the ranges come from: the kernel accepts the map
// (no overlap with each other or with the account's own id, not too many extents), no real
// account's id is inside, and there are enough ids.
func (j *subIDJudge) judgeOwn(own []parse.SubIDRange) {
	if len(own) == 0 {
		return
	}
	k, u := j.k, j.e.User
	ownID := int64(k.ownID(u))
	// The engine's first extent maps the account's own id.
	limit := maxExtents
	if kv, err := j.e.Kernel(); err == nil && !kv.AtLeast(4, 15) {
		limit = 5
	}
	if len(own)+1 > limit {
		j.problem(finding.Fail, "%s has %d subordinate %s ranges; the kernel takes at most %d extents in a %s", u.Name, len(own), k.word, limit, k.idMap)
		j.replace(own...)
		own = own[:limit-1]
	}
	// The kernel rejects a map whose host-side ranges overlap (kernel/user_namespace.c,
	// mappings_overlap): "write to uid_map failed: Invalid argument".
	sorted := slices.Clone(own)
	slices.SortFunc(sorted, func(a, b parse.SubIDRange) int { return cmp.Compare(a.Start, b.Start) })
	spans := []parse.IDSpan{sorted[0].Span()}
	reach := sorted[0] // the range reaching furthest so far
	for _, r := range sorted[1:] {
		switch {
		case r.Start == reach.Start && r.Count == reach.Count:
			// The same range on two lines (appended twice by a script or a playbook): newuidmap
			// accepts either copy, but RootlessKit and Podman pass every line, and the two
			// extents overlap. The account's container storage is mapped with this range, so
			// the fix removes the later copies only (issue 10: it removed the range, and a
			// fresh one unmapped every file the account's containers own).
			j.problem(finding.Fail, "%s's subordinate %s range %s is listed twice (lines %d and %d): engines pass every line, and the kernel rejects the overlapping id map", u.Name, k.word, r, reach.Line, r.Line)
			j.keepOnce(r)
		case r.Start <= reach.End():
			j.problem(finding.Fail, "%s's subordinate %s ranges %s (line %d) and %s (line %d) overlap: the kernel rejects the id map", u.Name, k.word, reach, reach.Line, r, r.Line)
			j.replace(reach, r)
		}
		if r.End() > reach.End() {
			reach = r
		}
		spans = append(spans, r.Span())
	}
	union := parse.UnionCount(spans)
	for _, r := range own {
		if r.Contains(ownID) {
			j.problem(finding.Fail, "%s's subordinate %s range %s contains its own %s %d, which the engine already maps to root: the kernel rejects the id map", u.Name, k.word, r, k.word, ownID)
			j.replace(r)
		}
	}
	j.judgeRealIDs(own, ownID)
	nested := j.judgeParentMap(own, ownID)
	if union < parse.MinSubIDs && union >= nobodyIDs && nested > 0 && nested-2 < parse.MinSubIDs {
		// A user namespace of 65,537 ids (a rootless container) leaves the account at most
		// 65,535 besides its own and the outer root: enough for every id up to nobody, which
		// is what podman's own image gives its account (podman:1:999, podman:1001:64535).
		j.problem(finding.Warn, "%s has %d subordinate %ss, all the user namespace this runs in can give: ids above %d in images cannot be mapped", u.Name, union, k.word, union)
	} else if union < parse.MinSubIDs {
		// A failure, not a warning: Docker's prerequisites require 65,536, and pulls of
		// everyday images (anything owning files as nobody) break below it.
		j.problem(finding.Fail, "%s has %d subordinate %ss, fewer than the %d most images need", u.Name, union, k.word, parse.MinSubIDs)
		j.replace(own...)
		j.detail("Pulling an image that owns files above %s's last mapped id fails with \"lchown …: invalid argument\" (docker-library/busybox#107).", u.Name)
	}
}

// judgeParentMap checks the ranges against the user namespace the doctor itself runs in. Inside
// a rootless container, an LXD/Incus guest or a pod with user namespaces, /proc/self/uid_map
// is not the identity map: only the ids it maps exist here, and the kernel refuses a nested
// map naming any other ("newuidmap: write to uid_map failed: Operation not permitted",
// kernel/user_namespace.c, map_id_range_down). Images default the inner account to
// user:100000:65536, which a rootless container of 65,537 ids does not map
// (podman-container-tools/podman#15419, #27411; docs/failures/catalogue.json#nested-userns-map-too-small).
// It returns how many ids the namespace maps, 0 when it maps them all (or cannot be read).
func (j *subIDJudge) judgeParentMap(own []parse.SubIDRange, ownID int64) int64 {
	k, u := j.k, j.e.User
	p := "/proc/self/" + k.idMap
	data, err := j.e.Host.ReadFile(p)
	if err != nil {
		return 0
	}
	maps, err := user.ParseIDMap(bytes.NewReader(data))
	if err != nil || len(maps) == 0 || len(maps) > maxExtents {
		return 0
	}
	var parent []parse.IDSpan
	for _, m := range maps {
		if s, ok := parse.SpanOf(m.ID, m.Count); ok {
			parent = append(parent, s)
		}
	}
	mapped := parse.UnionCount(parent)
	if len(parent) == 0 || mapped >= parse.MaxID+1 {
		return 0 // the initial namespace, or one that maps every id
	}
	var outside []string
	for _, r := range own {
		left := []parse.IDSpan{r.Span()}
		for _, ps := range parent {
			var next []parse.IDSpan
			for _, l := range left {
				next = append(next, l.Minus(ps)...)
			}
			left = next
		}
		if len(left) > 0 {
			outside = append(outside, fmt.Sprintf("%s (first unmapped id %d)", r, left[0].First))
		}
	}
	if len(outside) == 0 {
		return mapped
	}
	j.r = j.r.With(p, finding.Clip(strings.Join(strings.Fields(string(data)), " "), 200))
	j.problem(finding.Fail, "%s's subordinate %s range %s lies outside the %d %ss of the user namespace this runs in (%s): the kernel refuses the nested map",
		u.Name, k.word, strings.Join(outside, ", "), mapped, k.word, p)
	j.detail("This runs inside another user namespace (a rootless container, an LXD/Incus guest, a pod with user namespaces): only the %ss its %s maps exist here, and newuidmap fails with \"write to %s failed: Operation not permitted\" for any other.", k.word, k.idMap, k.idMap)
	// A suggestion inside the parent map: every mapped id but 0 (the outer container's root)
	// and the account's own, which the engine maps itself; what podman's own image does
	// (podman:1:999, podman:1001:64535).
	var free []parse.IDSpan
	for _, ps := range parent {
		left := []parse.IDSpan{ps}
		for _, out := range []parse.IDSpan{{First: 0, Last: 0}, {First: ownID, Last: ownID}} {
			var next []parse.IDSpan
			for _, l := range left {
				next = append(next, l.Minus(out)...)
			}
			left = next
		}
		free = append(free, left...)
	}
	slices.SortFunc(free, func(a, b parse.IDSpan) int { return cmp.Compare(a.First, b.First) })
	var lines []string
	var total int64
	for _, f := range free {
		if total >= parse.MinSubIDs || len(lines) == 4 {
			break
		}
		n := min(f.Count(), parse.MinSubIDs-total)
		lines = append(lines, fmt.Sprintf("%s:%d:%d", u.Name, f.First, n))
		total += n
	}
	more := fmt.Sprintf("start the outer container or guest with at least %d ids (podman run --userns=auto:size=200000; Incus/LXD: security.idmap.size=200000)", parse.MinSubIDs+1)
	if total < nobodyIDs {
		j.intents = append(j.intents, finding.ManualStep("subid-parent-"+k.word, fmt.Sprintf(
			"the user namespace this runs in maps only %d %ss, too few for subordinate ones up to %d (nobody): %s", mapped, k.word, nobodyIDs, more)))
		return mapped
	}
	j.intents = append(j.intents, finding.ManualStep("subid-parent-"+k.word, fmt.Sprintf(
		"give %s subordinate %ss that the user namespace it runs in maps: in %s, replace its lines with %s; or %s",
		u.Name, k.word, k.file, strings.Join(lines, " and "), more)))
	return mapped
}

// nobodyIDs is how many subordinate ids reach nobody (65534), the highest id everyday images
// use.
const nobodyIDs = 65534

// judgeRealIDs reports ranges that take in the ids of real accounts (or groups): a container
// process with such an id owns that account's files on the host.
func (j *subIDJudge) judgeRealIDs(own []parse.SubIDRange, ownID int64) {
	data, err := j.e.Host.ReadFile(j.k.idFile)
	if err != nil {
		return // identity.user reports an unreadable passwd
	}
	ids := j.k.realIDs(data)
	for _, r := range own {
		var names []string
		for _, id := range ids {
			if id.id != ownID && r.Contains(id.id) {
				names = append(names, fmt.Sprintf("%s (%d)", id.name, id.id))
			}
		}
		if len(names) == 0 {
			continue
		}
		if len(names) > 3 {
			names = append(names[:3], fmt.Sprintf("%d more", len(names)-3))
		}
		// A warning: the kernel and newuidmap accept the map, so the engine runs, but the
		// account's containers own that account's files
		// (docs/failures/catalogue.json#subuid-ranges-shared-between-users).
		j.problem(finding.Warn, "%s's subordinate %s range %s contains %ss of %s: %s", j.e.User.Name, j.k.word, r, j.k.word, j.k.idFile, strings.Join(names, ", "))
		j.replace(r)
	}
}

// judgeOthers checks the account's ranges against everyone else's lines in the file.
func (j *subIDJudge) judgeOthers(f parse.SubIDs, own []parse.SubIDRange) {
	k, u := j.k, j.e.User
	if len(own) > 0 {
		var theirs []parse.SubIDRange
		for _, o := range f.Ranges {
			if !parse.OwnerIs(o.Owner, u.Name, u.UID) {
				theirs = append(theirs, o)
			}
		}
		idx := newOverlapIndex(theirs)
		for _, r := range own {
			// One overlap is enough to replace the range.
			if o, ok := idx.find(r); ok {
				// newuidmap checks only that a range is the caller's, and the kernel only
				// that the ranges of one map do not overlap each other: the engines run,
				// but the two accounts' containers share ids and each other's files, so
				// a warning (docs/failures/catalogue.json#subuid-ranges-shared-between-users;
				// podman-container-tools/podman#4047).
				j.r = j.r.With(k.lineSource(o.Line), o.Text)
				j.problem(finding.Warn, "%s's subordinate %s range %s overlaps %s's range %s (line %d of %s): their containers share ids and each other's files", u.Name, k.word, r, o.Owner, o, o.Line, k.file)
				j.replace(r)
			}
		}
	}
	var others []parse.BadLine
	fieldCount := false
	for _, b := range f.Bad {
		if !parse.OwnerIs(b.Owner, u.Name, u.UID) {
			others = append(others, b)
			fieldCount = fieldCount || b.Fields != 3
		}
	}
	if len(others) == 0 {
		return
	}
	status := finding.Warn
	if _, err := j.e.LookPath("getsubids"); err != nil && fieldCount {
		// Without getsubids RootlessKit reads the file itself and rejects all of it when any
		// line lacks three fields ("Format not correct for /etc/subuid file",
		// pkg/parent/idtools); Podman built without libsubid does the same.
		status = finding.Fail
		j.detail("getsubids is not installed, so RootlessKit reads %s itself and rejects the whole file over a line without three fields.", k.file)
		j.intents = append(j.intents, finding.InstallTool(string(distro.ToolGetsubids), "engines then read subordinate ids through shadow, which skips malformed lines"))
	}
	for i, b := range others {
		if i < maxEvidence {
			j.r = j.r.With(k.lineSource(b.Line), b.Text)
		}
		if b.Repaired == nil {
			j.badLines = append(j.badLines, b.Line) // the crlf step repairs the others
		}
	}
	more := ""
	if len(others) > 1 {
		more = fmt.Sprintf(" (and %d more malformed lines)", len(others)-1)
	}
	j.problem(status, "line %d of %s (owner %q) %s%s", others[0].Line, k.file, others[0].Owner, others[0].Reason, more)
}

// overlapIndex answers "which of these ranges overlaps r?" in O(log n), so that an account
// is checked against a file of many thousand accounts quickly.
type overlapIndex struct {
	byStart []parse.SubIDRange // sorted by Start
	reach   []int              // reach[i]: the index in byStart[:i+1] of the range ending last
}

func newOverlapIndex(rs []parse.SubIDRange) overlapIndex {
	x := overlapIndex{byStart: slices.Clone(rs), reach: make([]int, len(rs))}
	slices.SortFunc(x.byStart, func(a, b parse.SubIDRange) int { return cmp.Compare(a.Start, b.Start) })
	for i := range x.byStart {
		x.reach[i] = i
		if i > 0 && x.byStart[x.reach[i-1]].End() >= x.byStart[i].End() {
			x.reach[i] = x.reach[i-1]
		}
	}
	return x
}

// find returns a range that overlaps r: of those starting before r ends, the one ending last
// overlaps r if any does.
func (x overlapIndex) find(r parse.SubIDRange) (parse.SubIDRange, bool) {
	n, _ := slices.BinarySearchFunc(x.byStart, r.End()+1, func(o parse.SubIDRange, t int64) int { return cmp.Compare(o.Start, t) })
	// n is the first range starting at or after r.End()+1; earlier ones start within reach.
	if n == 0 {
		return parse.SubIDRange{}, false
	}
	o := x.byStart[x.reach[n-1]]
	return o, o.End() >= r.Start
}

// noteLimits notes ranges outside SUB_UID_MIN..SUB_UID_MAX. That is not wrong in itself
// (useradd only allocates new ranges inside them), but ids below the minimum are where
// real accounts live.
func (j *subIDJudge) noteLimits(own []parse.SubIDRange) {
	data, err := j.e.Host.ReadFile("/etc/login.defs")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return
	}
	l := parse.ParseLoginDefs(data).SubIDLimits(j.k.defs)
	noted := 0
	for _, r := range own {
		if (r.Start < l.Min || r.End() > l.Max) && noted < maxEvidence {
			noted++
			j.detail("%s lies outside %s_MIN..%s_MAX (%d-%d, /etc/login.defs or shadow's defaults), where useradd allocates subordinate %ss.", r, j.k.defs, j.k.defs, l.Min, l.Max, j.k.word)
		}
	}
}

// checkStale compares the ranges with the id map of a user namespace an engine already made.
// Podman's pause process and rootless dockerd keep the namespace they started with, so ranges
// added or changed since do not apply until it is recreated
// (podman-container-tools/podman#3421, docs/failures/catalogue.json#subuid-changed-stale-namespace).
func (j *subIDJudge) checkStale(own []parse.SubIDRange) {
	rt := j.e.RuntimeDir()
	ownID := int64(j.k.ownID(j.e.User))
	for _, eng := range []struct{ name, pidFile, step, command string }{
		{"Podman's pause process", rt + "/libpod/tmp/pause.pid", "podman-migrate", "podman system migrate"},
		{"rootless dockerd", rt + "/dockerd-rootless/child_pid", "docker-restart", "systemctl --user restart docker"},
	} {
		data, err := j.e.Host.ReadFile(eng.pidFile)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 {
			continue
		}
		mapPath := fmt.Sprintf("/proc/%d/%s", pid, j.k.idMap)
		m, err := j.e.Host.ReadFile(mapPath)
		if err != nil {
			continue
		}
		maps, err := user.ParseIDMap(bytes.NewReader(m))
		if err != nil || !slices.ContainsFunc(maps, func(x user.IDMap) bool { return x.ParentID == ownID && x.Count == 1 }) {
			// Not a rootless engine's namespace (the pid file is stale and the pid reused).
			continue
		}
		var live []string
		var liveSpans []parse.IDSpan
		for _, x := range maps {
			if x.ParentID != ownID {
				live = append(live, fmt.Sprintf("%d-%d", x.ParentID, x.ParentID+x.Count-1))
				if s, ok := parse.SpanOf(x.ParentID, x.Count); ok {
					liveSpans = append(liveSpans, s)
				}
			}
		}
		var want []string
		for _, r := range own {
			want = append(want, r.String())
		}
		slices.Sort(live)
		slices.Sort(want)
		if slices.Equal(live, want) {
			continue
		}
		j.r = j.r.With(mapPath, strings.Join(strings.Fields(string(m)), " "))
		mapped := "only the " + j.k.word + " of " + j.e.User.Name
		if len(live) > 0 {
			mapped = "subordinate " + j.k.word + "s " + strings.Join(live, ", ")
		}
		// A namespace made before the account had its ranges maps only its own id: every
		// image with more than one owner then fails to unpack ("there might not be enough IDs
		// available in the namespace", podman-container-tools/podman#3356) until it is made
		// again, a failure. A namespace of enough ids that only differs is a warning: files
		// in the storage keep the old owners until it is recreated.
		status := finding.Warn
		if parse.UnionCount(liveSpans) < parse.MinSubIDs && len(own) > 0 {
			status = finding.Fail
		}
		j.problem(status, "%s (pid %d) still maps %s from when it started; the current ranges are %s",
			eng.name, pid, mapped, orNone(strings.Join(want, ", ")))
		j.intents = append(j.intents, finding.ManualStep(eng.step,
			fmt.Sprintf("run `%s` as %s so the engine recreates its user namespace with the current subordinate ids", eng.command, j.e.User.Name)))
	}
}

// result turns the problems into the probe's result.
func (j *subIDJudge) result(own []parse.SubIDRange, from string) finding.Result {
	k, u := j.k, j.e.User
	if j.summary == "" {
		var total int64
		for _, r := range own {
			total += r.Count
		}
		r := j.r.WithStatus(finding.Pass, "%s has %d subordinate %ss (%s)%s", u.Name, total, k.word, rangeList(own), from)
		r.Details = append(r.Details, j.details...)
		return r
	}
	r := j.r.WithStatus(j.status, "%s", j.summary)
	r.Details = append(r.Details, j.rest...)
	if j.dropped > 0 {
		r = r.Detail("… and %d more problems", j.dropped)
	}
	r.Details = append(r.Details, j.details...)
	switch {
	case j.fresh && j.module != "":
		// Writing the files would change nothing: newuidmap asks the module.
		r = r.Fix(finding.ManualStep("subid-provider", fmt.Sprintf(
			"have the %q subordinate id provider give %s at least %d subordinate uids and gids (FreeIPA: ipa subid-generate --owner %s; then restart sssd)",
			j.module, u.Name, parse.MinSubIDs, u.Name)))
	case j.fresh:
		in := finding.AddSubIDs(u.Name, k.word, parse.MinSubIDs, j.remove,
			fmt.Sprintf("rootless containers need %d subordinate %ss of %s's own, overlapping nobody", parse.MinSubIDs, k.word, u.Name))
		in.Keep = j.kept()
		r = r.Fix(in)
	case len(j.kept()) > 0 && j.module == "":
		r = r.Fix(finding.DedupeSubIDs(u.Name, k.word, j.kept(),
			fmt.Sprintf("each of %s's subordinate %s ranges must be listed once; its container storage is mapped with the first line", u.Name, k.word)))
	}
	if len(j.badLines) > 0 {
		var lines []string
		for _, l := range j.badLines {
			lines = append(lines, strconv.Itoa(l))
		}
		which := "line " + lines[0]
		if len(lines) > 1 {
			if len(lines) > maxEvidence {
				lines = append(lines[:maxEvidence], "…")
			}
			which = "lines " + strings.Join(lines, ", ")
		}
		r = r.Fix(finding.ManualStep("fix-sub"+k.word, fmt.Sprintf("correct or delete the malformed %s of %s (format NAME:START:COUNT)", which, k.file)))
	}
	return r.Fix(j.intents...)
}

// kept are the ranges to leave on one line that no other problem removes.
func (j *subIDJudge) kept() []string {
	var out []string
	for _, s := range j.once {
		if !j.removing[s] {
			out = append(out, s)
		}
	}
	return out
}

func rangeList(rs []parse.SubIDRange) string {
	var s []string
	for i, r := range rs {
		if i == 3 {
			s = append(s, fmt.Sprintf("%d more", len(rs)-i))
			break
		}
		s = append(s, r.String())
	}
	return strings.Join(s, ", ")
}
