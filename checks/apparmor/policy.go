package apparmor

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"

	"github.com/rootless-doctor/rootless-doctor/host"
)

// Policy resolution: which profile of /etc/apparmor.d attaches to an executable, and does it
// allow `userns` (counting the files its body includes), is it disabled, is it loaded. The
// scanner (profile.go) reads one file; this follows includes and variables across files.

// Where the policy is.
const (
	Dir        = "/etc/apparmor.d"
	DisableDir = "/etc/apparmor.d/disable"
	LoadedFile = "/sys/kernel/security/apparmor/profiles"
	// Bounds on what the scan reads: Ubuntu 24.04 has about 150 profile files plus the
	// abstractions and tunables they include.
	maxFiles    = 2000
	maxIncDepth = 6
)

// ProfileRef is a profile with an attachment, and where it is.
type ProfileRef struct {
	File     string
	Scan     *File
	Prof     Profile
	Disabled bool
}

// Policy is what /etc/apparmor.d holds (Load reads it; checks/facts keeps one per run).
type Policy struct {
	res      *resolver
	profiles []ProfileRef
	// Problems are the profile files that could not be read, as sentences.
	Problems []string
	// DirErr is why /etc/apparmor.d could not be listed (nil when it was, or does not exist).
	DirErr error
	// Loaded maps loaded profile names to their mode, when LoadedKnown.
	Loaded      map[string]string
	LoadedKnown bool
}

// skipSuffixes are the names the AppArmor init scripts skip (rc.apparmor.functions
// skip_profile): package manager leftovers and editor backups.
var skipSuffixes = []string{
	".dpkg-new", ".dpkg-old", ".dpkg-dist", ".dpkg-bak", ".dpkg-remove", ".pacsave", ".pacnew",
	".rpmnew", ".rpmsave", ".orig", ".rej", "~",
}

// Load reads the policy of /etc/apparmor.d on h: every profile with an attachment (with the
// files it includes, read on demand and bounded), which are disabled, and which are loaded.
func Load(h host.Host) *Policy {
	{
		pol := &Policy{res: &resolver{h: h, files: map[string]*scanned{}}}
		ents, err := h.ReadDir(Dir)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				pol.DirErr = err
			}
			return pol
		}
		disabled := map[string]bool{}
		if dis, err := h.ReadDir(DisableDir); err == nil {
			for _, d := range dis {
				disabled[d.Name()] = true
			}
		}
		for _, ent := range ents {
			name := ent.Name()
			if !profileFileName(name) {
				continue
			}
			p := path.Join(Dir, name)
			if ent.IsDir() {
				continue
			}
			if ent.Type()&fs.ModeSymlink != 0 {
				if fi, err := h.Stat(p); err != nil || fi.IsDir() {
					continue
				}
			}
			f, err := pol.res.file(p)
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					pol.Problems = append(pol.Problems, fmt.Sprintf("Could not read the profile %s: %v", p, err))
				}
				continue
			}
			for _, prof := range f.Profiles {
				if prof.Attach != "" {
					pol.profiles = append(pol.profiles, ProfileRef{File: p, Scan: f, Prof: prof, Disabled: disabled[name]})
				}
			}
		}
		if data, err := h.ReadFile(LoadedFile); err == nil {
			list := ParseLoaded(data)
			if len(list) > 0 {
				pol.Loaded, pol.LoadedKnown = map[string]string{}, true
				for _, l := range list {
					pol.Loaded[l.Name] = l.Mode
				}
			}
		}
		return pol
	}
}

// profileFileName reports whether a name in /etc/apparmor.d is a profile file the loader
// reads.
func profileFileName(name string) bool {
	if name == "" || name == "." || name == ".." || strings.HasPrefix(name, ".") || strings.Contains(name, "/") || name == "README" {
		return false
	}
	for _, s := range skipSuffixes {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	return true
}

// scanned is a scanned policy file, or why it could not be read.
type scanned struct {
	scan *File
	err  error
}

// resolver reads policy files and follows their includes, with a cache and bounds. It is
// shared by the probes of a run, so the cache is guarded.
type resolver struct {
	h     host.Host
	mu    sync.Mutex
	files map[string]*scanned
	reads int
}

func (r *resolver) file(p string) (*File, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.files[p]; ok {
		return f.scan, f.err
	}
	if r.reads >= maxFiles {
		return nil, fmt.Errorf("not read: more than %d AppArmor files", maxFiles)
	}
	r.reads++
	data, err := r.h.ReadFile(p)
	if err != nil {
		r.files[p] = &scanned{err: err}
		return nil, err
	}
	f := Scan(data)
	r.files[p] = &scanned{scan: &f}
	return &f, nil
}

// targets lists the files an include names: <x> is under /etc/apparmor.d, "x" is absolute
// or relative to the including file, and a directory means every file in it.
func (r *resolver) targets(inc Include, from string) []string {
	var p string
	switch {
	case inc.Angle:
		p = path.Join(Dir, inc.Path)
	case path.IsAbs(inc.Path):
		p = path.Clean(inc.Path)
	default:
		p = path.Join(path.Dir(from), inc.Path)
	}
	fi, err := r.h.Stat(p)
	if err != nil || !fi.IsDir() {
		return []string{p}
	}
	ents, err := r.h.ReadDir(p)
	if err != nil {
		return nil
	}
	var out []string
	for _, ent := range ents {
		if !ent.IsDir() && profileFileName(ent.Name()) {
			out = append(out, path.Join(p, ent.Name()))
		}
	}
	return out
}

// vars collects the variables a file sees: those of the files it includes at the top (the
// tunables), then its own.
func (r *resolver) vars(f *File, from string) map[string][]string {
	out := map[string][]string{}
	seen := map[string]bool{}
	var walk func(f *File, from string, depth int)
	walk = func(f *File, from string, depth int) {
		if depth < maxIncDepth {
			for _, inc := range f.Includes {
				for _, t := range r.targets(inc, from) {
					if seen[t] {
						continue
					}
					seen[t] = true
					if g, err := r.file(t); err == nil {
						walk(g, t, depth+1)
					}
				}
			}
		}
		f.Define(out)
	}
	walk(f, from, 0)
	return out
}

// grants reports whether a profile allows or denies userns, counting the rules of the files
// its body includes (abstractions/pasta, local/rootlesskit); via is the file with the allow.
func (r *resolver) grants(ref ProfileRef) (allow, deny bool, via string) {
	allow, deny = ref.Prof.Userns, ref.Prof.DenyUserns
	if allow {
		via = ref.File
	}
	r.included(ref, func(f *File, t string) {
		deny = deny || f.DenyUserns
		if f.Userns && !allow {
			allow, via = true, t
		}
	})
	return allow, deny, via
}

// included calls visit for each file a profile's body includes, transitively (each once,
// bounded by maxIncDepth), with its path; files that cannot be read are passed over.
func (r *resolver) included(ref ProfileRef, visit func(f *File, path string)) {
	seen := map[string]bool{}
	var walk func(incs []Include, from string, depth int)
	walk = func(incs []Include, from string, depth int) {
		if depth >= maxIncDepth {
			return
		}
		for _, inc := range incs {
			for _, t := range r.targets(inc, from) {
				if seen[t] {
					continue
				}
				seen[t] = true
				f, err := r.file(t)
				if err != nil {
					continue
				}
				visit(f, t)
				walk(f.Includes, t, depth+1)
			}
		}
	}
	walk(ref.Prof.Includes, ref.File, 0)
}

// Verdict is what a binary's profile situation is.
type Verdict int

const (
	Granted   Verdict = iota // an enabled, loaded profile allows userns
	NoProfile                // no profile attaches to the path
	NoUserns                 // a profile attaches but has no userns rule
	Denied                   // a profile attaches and denies userns
	Disabled                 // the only profile that attaches is disabled
	NotLoaded                // the profile is on disk but not loaded
)

// Check is what the policy says about one binary.
type Check struct {
	Verdict Verdict
	Ref     ProfileRef // the profile that attaches (not for NoProfile)
	Via     string     // the file whose rule allows userns
	Mode    string     // loaded mode, when known
	EvalErr []string   // attachments that could not be evaluated
}

// attached finds the profile that attaches to path: the most specific enabled one (an exact
// path beats a pattern), else a disabled one.
func (pol *Policy) attached(path string) (cands []ProfileRef, disabled *ProfileRef, evalErr []string) {
	var literal, glob []ProfileRef
	for i, ref := range pol.profiles {
		ok, err := pol.match(ref, path)
		if err != nil {
			evalErr = append(evalErr, fmt.Sprintf("%s:%d %q: %v", ref.File, ref.Prof.Line, ref.Prof.Attach, err))
			continue
		}
		if !ok {
			continue
		}
		switch {
		case ref.Disabled:
			if disabled == nil {
				disabled = &pol.profiles[i]
			}
		case IsLiteralAttachment(ref.Prof.Attach):
			literal = append(literal, ref)
		default:
			glob = append(glob, ref)
		}
	}
	// AppArmor attaches the most specific match: an exact path beats a pattern.
	if len(literal) > 0 {
		return literal, disabled, evalErr
	}
	return glob, disabled, evalErr
}

// Attached returns the enabled profile AppArmor attaches to the executable at path (symlinks
// resolved), and whether it is loaded: loaded is false only when the list of loaded profiles
// was readable and does not name it. ok is false when no enabled profile attaches.
func (pol *Policy) Attached(path string) (ref ProfileRef, loaded, ok bool) {
	cands, _, _ := pol.attached(path)
	if len(cands) == 0 {
		return ProfileRef{}, false, false
	}
	ref = cands[0]
	loaded = true
	if pol.LoadedKnown {
		_, loaded = pol.Loaded[ref.Prof.Name]
	}
	return ref, loaded, true
}

// Access is what a profile's file rules say about one access to one path.
type Access struct {
	// Allowed: an allow rule grants every permission asked; Denied: a deny rule matches
	// (deny wins in AppArmor).
	Allowed, Denied bool
	// Rule is the deciding rule ("FILE:LINE: PATH PERMS").
	Rule string
	// EvalErr lists rules that could not be evaluated (an undefined variable): when it is not
	// empty and nothing allowed the access, the answer is not known.
	EvalErr []string
}

// Access evaluates the file rules of ref's profile, with the files its body includes
// (abstractions, local/ overrides), for reading or writing path: perm holds the access
// letters asked ("r"). owner says whether the process owns the file; `owner` rules apply only
// then.
func (pol *Policy) Access(ref ProfileRef, path, perm string, owner bool) Access {
	var a Access
	vars := pol.res.vars(ref.Scan, ref.File)
	check := func(rules []FileRule, file string) {
		for _, fr := range rules {
			if fr.Owner && !owner {
				continue
			}
			covers := true
			for _, c := range perm {
				covers = covers && strings.ContainsRune(fr.Perms, c)
			}
			if !covers && !fr.Deny {
				continue
			}
			ok, err := MatchAttachment(fr.Path, vars, path)
			if err != nil {
				a.EvalErr = append(a.EvalErr, fmt.Sprintf("%s:%d %s: %v", file, fr.Line, fr.Path, err))
				continue
			}
			if !ok {
				continue
			}
			where := fmt.Sprintf("%s:%d: %s %s", file, fr.Line, fr.Path, fr.Perms)
			switch {
			case fr.Deny && !a.Denied:
				a.Denied, a.Rule = true, "deny "+where
			case !fr.Deny && !a.Allowed && !a.Denied:
				a.Allowed, a.Rule = true, where
			}
		}
	}
	check(ref.Prof.Files, ref.File)
	pol.res.included(ref, func(f *File, t string) { check(f.Files, t) })
	if a.Denied {
		a.Allowed = false
	}
	return a
}

// Grants tells what the policy does for the executable at path (symlinks already resolved:
// AppArmor attaches to the path the kernel executes): which profile attaches, and whether it
// lets the program create user namespaces.
func (pol *Policy) Grants(path string) Check {
	c := Check{Verdict: NoProfile}
	cands, disabled, evalErr := pol.attached(path)
	c.EvalErr = evalErr
	if len(cands) == 0 {
		if disabled != nil {
			c.Verdict, c.Ref = Disabled, *disabled
		}
		return c
	}
	c.Ref, c.Verdict = cands[0], NoUserns
	for _, ref := range cands {
		allow, deny, via := pol.res.grants(ref)
		if deny {
			c.Ref, c.Verdict = ref, Denied
			break
		}
		if allow {
			c.Ref, c.Verdict, c.Via = ref, Granted, via
			break
		}
	}
	if c.Verdict == Granted && pol.LoadedKnown {
		mode, ok := pol.Loaded[c.Ref.Prof.Name]
		if !ok {
			c.Verdict = NotLoaded
		}
		c.Mode = mode
	}
	return c
}

func (pol *Policy) match(ref ProfileRef, p string) (bool, error) {
	var vars map[string][]string
	if strings.Contains(ref.Prof.Attach, "@{") {
		vars = pol.res.vars(ref.Scan, ref.File)
	}
	return MatchAttachment(ref.Prof.Attach, vars, p)
}
