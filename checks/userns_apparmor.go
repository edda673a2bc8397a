package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var usernsAppArmor = Probe{
	ID:    "userns.apparmor",
	Title: "AppArmor user namespace restriction",
	Why: "Since Ubuntu 24.04 (opt-in in 23.10) kernel.apparmor_restrict_unprivileged_userns=1: " +
		"an unprivileged program may create a user namespace only when an AppArmor profile with " +
		"a `userns,` rule is attached to its path. The apparmor package ships one for " +
		"/usr/bin/rootlesskit only; rootlesskit from get.docker.com/rootless (~/bin), " +
		"nerdctl-full (/usr/local/bin) or a tarball, and rootless-doctor itself (which embeds " +
		"rootlesskit), fail with \"fork/exec /proc/self/exe: permission denied\" until they get one.",
	Reads: []string{
		SysctlPath(aaRestrictKey), SysctlPath(aaComplainKey), SysctlPath(aaPolicyKey),
		"/etc/apparmor.d/* (profiles; not abstractions/, tunables/, local/), /etc/apparmor.d/disable/",
		aaLoadedFile + " (which profiles are loaded, when readable)",
		"rootlesskit, podman, buildah, pasta on PATH; ~/bin/rootlesskit; the rootless-doctor binary",
	},
	Fixes: []finding.Kind{finding.AppArmor, finding.Package, finding.Manual},
	Run:   runUsernsAppArmor,
}

// The sysctls of Ubuntu's AppArmor user namespace mediation (Ubuntu kernels since 23.10,
// https://ubuntu.com/blog/ubuntu-23-10-restricted-unprivileged-user-namespaces).
const (
	aaRestrictKey   = "kernel.apparmor_restrict_unprivileged_userns"
	aaComplainKey   = "kernel.apparmor_restrict_unprivileged_userns_complain"
	aaForceKey      = "kernel.apparmor_restrict_unprivileged_userns_force"
	aaUnconfinedKey = "kernel.apparmor_restrict_unprivileged_unconfined"
	aaPolicyKey     = "kernel.unprivileged_userns_apparmor_policy"
)

const (
	aaDir        = "/etc/apparmor.d"
	aaDisableDir = "/etc/apparmor.d/disable"
	aaLoadedFile = "/sys/kernel/security/apparmor/profiles"
	// Bounds on what the scan reads: Ubuntu 24.04 has about 150 profile files plus the
	// abstractions and tunables they include.
	aaMaxFiles    = 2000
	aaMaxIncDepth = 6
)

func runUsernsAppArmor(_ context.Context, e *Env) finding.Result {
	p := SysctlPath(aaRestrictKey)
	r, n, absent, stop := readSysctlInt(e, aaRestrictKey)
	if stop {
		return r
	}
	if absent {
		return finding.Passf("the kernel does not restrict user namespaces through AppArmor (no %s)", aaRestrictKey).
			With(p, "absent").
			Detail("The restriction is an Ubuntu kernel feature (23.10 and later); this kernel does not have it.")
	}
	side := map[string]int64{}
	for _, k := range []string{aaComplainKey, aaForceKey, aaUnconfinedKey, aaPolicyKey} {
		if v, err := e.Sysctl(k); err == nil {
			r = r.With(SysctlPath(k), v)
			if x, err := parse.ParseSysctlInt([]byte(v)); err == nil {
				side[k] = x
			}
		}
	}
	r = withBootProblems(e, r)
	boot, bootSet := bootValue(e, aaRestrictKey)
	bootOn := false
	if bootSet {
		r = boot.evidence(r)
		b, err := parse.ParseSysctlInt([]byte(boot.Value))
		bootOn = err == nil && b != 0
	}
	now := n != 0
	if !now && !bootOn {
		r = r.WithStatus(finding.Pass, "AppArmor does not restrict unprivileged user namespaces (%s = 0)", aaRestrictKey)
		if e.Distro.RestrictsUsernsViaAppArmor() {
			r = r.Detail("%s turns this restriction on by default (opt-in in 23.10, on since 24.04); it is off here, so any program may create user namespaces.", e.Distro.PrettyName)
		}
		return r
	}
	if now && side[aaComplainKey] != 0 {
		return r.WithStatus(finding.Pass, "AppArmor only logs unprivileged user namespace creation (%s = 1)", aaComplainKey).
			Detail("In complain mode the restriction records denials in the audit log but lets them pass; profiles with `userns,` are still needed once it is turned back to enforcing.")
	}

	r = r.Detail("With %s = 1 (the default since Ubuntu 24.04) an unprivileged program may create a user namespace only when an AppArmor profile with a `userns,` rule "+
		"is attached to its path; otherwise rootlesskit fails with \"fork/exec /proc/self/exe: permission denied\" (containerd/nerdctl#3063, moby/moby#47480).", aaRestrictKey)
	if side[aaPolicyKey] != 0 {
		r = r.Detail("%s = 1: an unconfined program that creates a user namespace without such a profile is moved into the `unprivileged_userns` profile, "+
			"so the namespace seems to work but setgid, setgroups and mount inside it are denied (NVIDIA/enroot#261, google/nsjail#236).", aaPolicyKey)
	}
	r = r.Detail("The system-wide alternative, sysctl %s=0, lets every program create user namespaces again: it undoes a security hardening and is not the recommended fix.", aaRestrictKey)

	bins, tempDoctor := usernsBinaries(e)
	pol := loadAppArmorPolicy(e)
	if pol.dirErr != nil && len(bins) > 0 {
		r.Err = pol.dirErr
		r.Summary = fmt.Sprintf("AppArmor restricts user namespaces and %s cannot be read", aaDir)
		return r
	}
	if pol.loadedKnown {
		r = r.With(aaLoadedFile, fmt.Sprintf("%d profiles loaded", len(pol.loaded)))
	}

	var checks []aaCheck
	for _, b := range bins {
		c := pol.check(b)
		checks = append(checks, c)
		r = c.report(r)
	}
	for _, pr := range pol.problems {
		r = r.Detail("%s", pr)
	}
	r = aaVerdictResult(e, r, checks, now, tempDoctor)
	if len(pol.problems) > 0 && (r.Status == finding.Fail || r.Status == finding.Warn) {
		for _, c := range checks {
			if c.verdict == aaNoProfile {
				// A profile that could not be read may be the one that attaches: do not ask
				// for a second one.
				r.Err = errors.New(pol.problems[0])
				r.Summary = fmt.Sprintf("no readable AppArmor profile grants userns to %s, and some profiles could not be read", c.bin.display())
				r.Intents = nil
				break
			}
		}
	}
	return r
}

// aaVerdictResult sets the status and summary from the checks of each binary.
func aaVerdictResult(e *Env, r finding.Result, checks []aaCheck, now bool, tempDoctor string) finding.Result {
	var hard, soft []aaCheck
	var ok []string
	for _, c := range checks {
		switch {
		case c.verdict == aaGranted:
			if !slices.Contains(ok, c.bin.name) {
				ok = append(ok, c.bin.name)
			}
		case c.bin.required:
			hard = append(hard, c)
		default:
			soft = append(soft, c)
		}
	}
	needParser := false
	for _, c := range append(append([]aaCheck{}, hard...), soft...) {
		in := c.fix()
		if !c.bin.required {
			in = in.Optionally()
		}
		r = r.Fix(in)
		needParser = needParser || in.Kind == finding.AppArmor
	}
	if needParser && !hasAppArmorParser(e) {
		r = r.Fix(finding.InstallTool(string(distro.ToolApparmor), "apparmor_parser loads the new AppArmor profile"))
	}
	when := "AppArmor blocks"
	if !now {
		when = "after the next boot AppArmor will block"
	}
	switch {
	case len(hard) > 0:
		s := finding.Fail
		if !now {
			s = finding.Warn
		}
		return r.WithStatus(s, "%s user namespaces for %s: %s%s", when, hard[0].bin.display(), hard[0].short(), aaAndMore(len(hard)+len(soft)-1))
	case len(soft) > 0:
		return r.WithStatus(finding.Warn, "%s user namespaces for %s: %s%s", when, soft[0].bin.display(), soft[0].short(), aaAndMore(len(soft)-1)).
			Detail("pasta creates a user namespace of its own only when it starts a command itself (pasta … -- CMD); podman and rootlesskit hand it " +
				"the namespace of the container, so this only warns.")
	case tempDoctor != "":
		return r.WithStatus(finding.Warn, "AppArmor restricts user namespaces and rootless-doctor runs from a temporary build, so its live proof will be denied").
			With("rootless-doctor executable", tempDoctor).
			Detail("A profile is attached to a fixed path; %s changes with every build.", tempDoctor).
			Fix(finding.ManualStep("rootless-doctor-fixed-path",
				"build rootless-doctor to a fixed path (go build -o, go install) and run its fix from there, so that path gets an AppArmor profile"))
	case len(ok) == 0:
		return r.WithStatus(finding.Pass, "AppArmor restricts user namespaces; no rootlesskit, podman or buildah is installed yet").
			Detail("rootlesskit from the distribution package (/usr/bin/rootlesskit) comes with a profile; one installed anywhere else needs its own (rerun this check after installing).")
	}
	if !now {
		return r.WithStatus(finding.Pass, "AppArmor will restrict user namespaces after the next boot; profiles allow them for %s", strings.Join(ok, ", "))
	}
	return r.WithStatus(finding.Pass, "AppArmor restricts user namespaces; profiles allow them for %s", strings.Join(ok, ", "))
}

func aaAndMore(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf(" (and %d more)", n)
}

func hasAppArmorParser(e *Env) bool {
	for _, p := range []string{"apparmor_parser", "/usr/sbin/apparmor_parser", "/sbin/apparmor_parser"} {
		if _, err := e.Host.LookPath(p); err == nil {
			return true
		}
	}
	return false
}

// usernsBinary is a program that will create user namespaces for the account.
type usernsBinary struct {
	name string // "rootlesskit"
	path string // where it was found
	real string // path with symlinks resolved: AppArmor attaches profiles to this
	// required: without a profile rootless containers fail (rootlesskit, podman, buildah,
	// the doctor); pasta only creates a user namespace when run on its own.
	required bool
	src      string // evidence source: how it was found
}

// display names the binary for a summary: its resolved path, with the name it was found
// under when that differs (pasta → /usr/bin/passt).
func (b usernsBinary) display() string {
	if path.Base(b.real) == b.name {
		return b.real
	}
	return b.name + " (" + b.real + ")"
}

// usernsBinaries finds the programs that create user namespaces. tempDoctor is the path of
// the running doctor when it is a temporary `go run` build, which no profile can follow.
func usernsBinaries(e *Env) (bins []usernsBinary, tempDoctor string) {
	seen := map[string]bool{}
	add := func(name, p string, required bool, src string) {
		real, err := e.Host.EvalSymlinks(p)
		if err != nil || !path.IsAbs(real) {
			real = p
		}
		if seen[real] {
			return
		}
		seen[real] = true
		bins = append(bins, usernsBinary{name: name, path: p, real: real, required: required, src: src})
	}
	look := func(name string, required bool) {
		if p, err := e.Host.LookPath(name); err == nil && path.IsAbs(p) {
			add(name, p, required, "command -v "+name)
		}
	}
	look("rootlesskit", true)
	// get.docker.com/rootless installs into ~/bin, which root's PATH (--user) does not have.
	if e.UserErr == nil && path.IsAbs(e.User.Home) {
		p := path.Join(e.User.Home, "bin", "rootlesskit")
		if fi, err := e.Host.Stat(p); err == nil && fi.Mode.IsRegular() && fi.Mode.Perm()&0o111 != 0 {
			add("rootlesskit", p, true, "~/bin (get.docker.com/rootless)")
		}
	}
	look("podman", true)
	look("buildah", true)
	look("pasta", false)
	if exe := e.Host.Executable(); exe != "" && path.IsAbs(exe) {
		if strings.Contains(exe, "/go-build") {
			tempDoctor = exe
		} else {
			add("rootless-doctor", exe, true, "rootless-doctor executable (it embeds rootlesskit)")
		}
	}
	return bins, tempDoctor
}

// aaProfileRef is a profile with an attachment, and where it is.
type aaProfileRef struct {
	file     string
	scan     *parse.AppArmorFile
	prof     parse.AppArmorProfile
	disabled bool
}

// aaPolicy is what /etc/apparmor.d holds, read once per run.
type aaPolicy struct {
	res      *aaResolver
	profiles []aaProfileRef
	problems []string
	dirErr   error
	// loaded maps loaded profile names to their mode, when loadedKnown.
	loaded      map[string]string
	loadedKnown bool
}

// aaSkipSuffixes are the names the AppArmor init scripts skip (rc.apparmor.functions
// skip_profile): package manager leftovers and editor backups.
var aaSkipSuffixes = []string{
	".dpkg-new", ".dpkg-old", ".dpkg-dist", ".dpkg-bak", ".dpkg-remove", ".pacsave", ".pacnew",
	".rpmnew", ".rpmsave", ".orig", ".rej", "~",
}

func loadAppArmorPolicy(e *Env) *aaPolicy {
	return Memo(e, "apparmor.policy", func() *aaPolicy {
		pol := &aaPolicy{res: &aaResolver{e: e, files: map[string]*aaScanned{}}}
		ents, err := e.Host.ReadDir(aaDir)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				pol.dirErr = err
			}
			return pol
		}
		disabled := map[string]bool{}
		if dis, err := e.Host.ReadDir(aaDisableDir); err == nil {
			for _, d := range dis {
				disabled[d.Name()] = true
			}
		}
		for _, ent := range ents {
			name := ent.Name()
			if !aaProfileFileName(name) {
				continue
			}
			p := path.Join(aaDir, name)
			if ent.IsDir() {
				continue
			}
			if ent.Type()&fs.ModeSymlink != 0 {
				if fi, err := e.Host.Stat(p); err != nil || fi.IsDir() {
					continue
				}
			}
			f, err := pol.res.file(p)
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					pol.problems = append(pol.problems, fmt.Sprintf("Could not read the profile %s: %v", p, err))
				}
				continue
			}
			for _, prof := range f.Profiles {
				if prof.Attach != "" {
					pol.profiles = append(pol.profiles, aaProfileRef{file: p, scan: f, prof: prof, disabled: disabled[name]})
				}
			}
		}
		if data, err := e.Host.ReadFile(aaLoadedFile); err == nil {
			list := parse.ParseAppArmorLoaded(data)
			if len(list) > 0 {
				pol.loaded, pol.loadedKnown = map[string]string{}, true
				for _, l := range list {
					pol.loaded[l.Name] = l.Mode
				}
			}
		}
		return pol
	})
}

// aaProfileFileName reports whether a name in /etc/apparmor.d is a profile file the loader
// reads.
func aaProfileFileName(name string) bool {
	if name == "" || name == "." || name == ".." || strings.HasPrefix(name, ".") || strings.Contains(name, "/") || name == "README" {
		return false
	}
	for _, s := range aaSkipSuffixes {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	return true
}

// aaScanned is a scanned policy file, or why it could not be read.
type aaScanned struct {
	scan *parse.AppArmorFile
	err  error
}

// aaResolver reads policy files and follows their includes, with a cache and bounds. It is
// shared through Memo, so the cache is guarded.
type aaResolver struct {
	e     *Env
	mu    sync.Mutex
	files map[string]*aaScanned
	reads int
}

func (r *aaResolver) file(p string) (*parse.AppArmorFile, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.files[p]; ok {
		return f.scan, f.err
	}
	if r.reads >= aaMaxFiles {
		return nil, fmt.Errorf("not read: more than %d AppArmor files", aaMaxFiles)
	}
	r.reads++
	data, err := r.e.Host.ReadFile(p)
	if err != nil {
		r.files[p] = &aaScanned{err: err}
		return nil, err
	}
	f := parse.ScanAppArmor(data)
	r.files[p] = &aaScanned{scan: &f}
	return &f, nil
}

// targets lists the files an include names: <x> is under /etc/apparmor.d, "x" is absolute
// or relative to the including file, and a directory means every file in it.
func (r *aaResolver) targets(inc parse.AppArmorInclude, from string) []string {
	var p string
	switch {
	case inc.Angle:
		p = path.Join(aaDir, inc.Path)
	case path.IsAbs(inc.Path):
		p = path.Clean(inc.Path)
	default:
		p = path.Join(path.Dir(from), inc.Path)
	}
	fi, err := r.e.Host.Stat(p)
	if err != nil || !fi.IsDir() {
		return []string{p}
	}
	ents, err := r.e.Host.ReadDir(p)
	if err != nil {
		return nil
	}
	var out []string
	for _, ent := range ents {
		if !ent.IsDir() && aaProfileFileName(ent.Name()) {
			out = append(out, path.Join(p, ent.Name()))
		}
	}
	return out
}

// vars collects the variables a file sees: those of the files it includes at the top (the
// tunables), then its own.
func (r *aaResolver) vars(f *parse.AppArmorFile, from string) map[string][]string {
	out := map[string][]string{}
	seen := map[string]bool{}
	var walk func(f *parse.AppArmorFile, from string, depth int)
	walk = func(f *parse.AppArmorFile, from string, depth int) {
		if depth < aaMaxIncDepth {
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
func (r *aaResolver) grants(ref aaProfileRef) (allow, deny bool, via string) {
	allow, deny = ref.prof.Userns, ref.prof.DenyUserns
	if allow {
		via = ref.file
	}
	seen := map[string]bool{}
	var walk func(incs []parse.AppArmorInclude, from string, depth int)
	walk = func(incs []parse.AppArmorInclude, from string, depth int) {
		if depth >= aaMaxIncDepth {
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
				deny = deny || f.DenyUserns
				if f.Userns && !allow {
					allow, via = true, t
				}
				walk(f.Includes, t, depth+1)
			}
		}
	}
	walk(ref.prof.Includes, ref.file, 0)
	return allow, deny, via
}

// aaVerdict is what a binary's profile situation is.
type aaVerdict int

const (
	aaGranted   aaVerdict = iota // an enabled, loaded profile allows userns
	aaNoProfile                  // no profile attaches to the path
	aaNoUserns                   // a profile attaches but has no userns rule
	aaDenied                     // a profile attaches and denies userns
	aaDisabled                   // the only profile that attaches is disabled
	aaNotLoaded                  // the profile is on disk but not loaded
)

// aaCheck is the verdict for one binary.
type aaCheck struct {
	bin     usernsBinary
	verdict aaVerdict
	ref     aaProfileRef // the profile that attaches (not for aaNoProfile)
	via     string       // the file whose rule allows userns
	mode    string       // loaded mode, when known
	evalErr []string     // attachments that could not be evaluated
}

func (pol *aaPolicy) check(b usernsBinary) aaCheck {
	c := aaCheck{bin: b, verdict: aaNoProfile}
	var literal, glob []aaProfileRef
	var disabled *aaProfileRef
	for i, ref := range pol.profiles {
		ok, err := pol.match(ref, b.real)
		if err != nil {
			c.evalErr = append(c.evalErr, fmt.Sprintf("%s:%d %q: %v", ref.file, ref.prof.Line, ref.prof.Attach, err))
			continue
		}
		if !ok {
			continue
		}
		switch {
		case ref.disabled:
			if disabled == nil {
				disabled = &pol.profiles[i]
			}
		case parse.IsLiteralAttachment(ref.prof.Attach):
			literal = append(literal, ref)
		default:
			glob = append(glob, ref)
		}
	}
	// AppArmor attaches the most specific match: an exact path beats a pattern.
	cands := literal
	if len(cands) == 0 {
		cands = glob
	}
	if len(cands) == 0 {
		if disabled != nil {
			c.verdict, c.ref = aaDisabled, *disabled
		}
		return c
	}
	c.ref, c.verdict = cands[0], aaNoUserns
	for _, ref := range cands {
		allow, deny, via := pol.res.grants(ref)
		if deny {
			c.ref, c.verdict = ref, aaDenied
			break
		}
		if allow {
			c.ref, c.verdict, c.via = ref, aaGranted, via
			break
		}
	}
	if c.verdict == aaGranted && pol.loadedKnown {
		mode, ok := pol.loaded[c.ref.prof.Name]
		if !ok {
			c.verdict = aaNotLoaded
		}
		c.mode = mode
	}
	return c
}

func (pol *aaPolicy) match(ref aaProfileRef, p string) (bool, error) {
	var vars map[string][]string
	if strings.Contains(ref.prof.Attach, "@{") {
		vars = pol.res.vars(ref.scan, ref.file)
	}
	return parse.MatchAppArmorAttachment(ref.prof.Attach, vars, p)
}

// short says in a few words what is wrong, for the summary.
func (c aaCheck) short() string {
	switch c.verdict {
	case aaNoUserns:
		return fmt.Sprintf("its profile %s has no userns rule", c.ref.prof.Name)
	case aaDenied:
		return fmt.Sprintf("its profile %s denies userns", c.ref.prof.Name)
	case aaDisabled:
		return fmt.Sprintf("its profile %s is disabled", c.ref.prof.Name)
	case aaNotLoaded:
		return fmt.Sprintf("its profile %s is not loaded", c.ref.prof.Name)
	}
	return "no AppArmor profile grants userns"
}

// report adds the evidence and details of one binary.
func (c aaCheck) report(r finding.Result) finding.Result {
	b := c.bin
	found := b.path
	if b.real != b.path {
		found = b.path + " → " + b.real
	}
	r = r.With(b.src, found)
	for _, e := range c.evalErr {
		r = r.Detail("Could not evaluate the attachment %s for %s.", e, b.real)
	}
	where := fmt.Sprintf("%s:%d", c.ref.file, c.ref.prof.Line)
	switch c.verdict {
	case aaGranted:
		v := fmt.Sprintf("profile %s attaches to %s and allows userns", c.ref.prof.Name, c.ref.prof.Attach)
		if c.via != c.ref.file {
			v += " (through " + c.via + ")"
		}
		if c.mode != "" {
			v += ", loaded (" + c.mode + ")"
		}
		r = r.With(where, v)
		if !c.ref.prof.HasFlag("unconfined") {
			r = r.Detail("The profile %s for %s is confined (no flags=(unconfined)): it allows userns but may deny what %s does next (mounts, capabilities).",
				c.ref.prof.Name, b.real, b.name)
		}
	case aaNoProfile:
		r = r.Detail("No profile in %s attaches to %s.", aaDir, b.real)
		if b.name == "rootlesskit" && b.real != "/usr/bin/rootlesskit" {
			r = r.Detail("The apparmor package ships a profile for /usr/bin/rootlesskit only; rootlesskit from get.docker.com/rootless (~/bin), nerdctl-full (/usr/local/bin) " +
				"or a release tarball needs its own (docker/docs#19638, rootless-containers/rootlesskit#439). Installing docker-ce-rootless-extras from Docker's apt " +
				"repository puts rootlesskit in /usr/bin instead.")
		}
	case aaNoUserns:
		r = r.With(where, fmt.Sprintf("profile %s attaches to %s without a userns rule", c.ref.prof.Name, c.ref.prof.Attach))
	case aaDenied:
		r = r.With(where, fmt.Sprintf("profile %s attaches to %s and denies userns", c.ref.prof.Name, c.ref.prof.Attach))
	case aaDisabled:
		r = r.With(where, fmt.Sprintf("profile %s attaches to %s but is disabled by %s", c.ref.prof.Name, c.ref.prof.Attach, path.Join(aaDisableDir, path.Base(c.ref.file))))
	case aaNotLoaded:
		r = r.With(where, fmt.Sprintf("profile %s allows userns for %s but is not in %s", c.ref.prof.Name, c.ref.prof.Attach, aaLoadedFile))
	}
	return r
}

// fix is the intent that repairs the binary's situation. A new profile is only written where
// no profile attaches: a second profile for the same path would conflict with the first.
func (c aaCheck) fix() finding.Intent {
	b := c.bin
	file := c.ref.file
	name := "apparmor-" + strings.ReplaceAll(strings.TrimPrefix(b.real, "/"), "/", ".")
	switch c.verdict {
	case aaNoUserns:
		target := file
		for _, inc := range c.ref.prof.Includes {
			if inc.Angle && strings.HasPrefix(inc.Path, "local/") {
				target = path.Join(aaDir, inc.Path) + " (which the profile includes) or " + file
				break
			}
		}
		return finding.ManualStep(name, fmt.Sprintf("add a `userns,` rule for %s to %s, then reload %s (apparmor_parser -r)", b.real, target, file))
	case aaDenied:
		return finding.ManualStep(name, fmt.Sprintf("the AppArmor profile %s in %s denies userns for %s: remove the deny rule if that is not intended, then reload it (apparmor_parser -r)",
			c.ref.prof.Name, file, b.real))
	case aaDisabled:
		return finding.ManualStep(name, fmt.Sprintf("re-enable the AppArmor profile %s: remove %s and load %s (apparmor_parser -r)",
			file, path.Join(aaDisableDir, path.Base(file)), file))
	case aaNotLoaded:
		return finding.ManualStep(name, fmt.Sprintf("load the AppArmor profile %s (apparmor_parser -r %s, or systemctl reload apparmor)", file, file))
	}
	return finding.AppArmorProfile(b.real, fmt.Sprintf("let %s create user namespaces under %s=1", b.name, aaRestrictKey))
}
