package checks

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/apparmor"
	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var usernsAppArmor = Probe{
	ID:    "userns.apparmor",
	Title: "AppArmor user namespace restriction",
	Fails: "restriction on (Ubuntu 24.04) and no profile grants `userns` to rootlesskit, podman, buildah or rootless-doctor at their real paths",
	Why: "Since Ubuntu 24.04 (opt-in in 23.10) kernel.apparmor_restrict_unprivileged_userns=1: " +
		"an unprivileged program may create a user namespace only when an AppArmor profile with " +
		"a `userns,` rule is attached to its path. The apparmor package ships one for " +
		"/usr/bin/rootlesskit only; rootlesskit from get.docker.com/rootless (~/bin), " +
		"nerdctl-full (/usr/local/bin) or a tarball, and rootless-doctor itself (which embeds " +
		"rootlesskit), fail with \"fork/exec /proc/self/exe: permission denied\" until they get one.",
	Reads: []string{
		facts.SysctlPath(aaRestrictKey), facts.SysctlPath(aaComplainKey), facts.SysctlPath(aaPolicyKey),
		"/etc/apparmor.d/* (profiles; not abstractions/, tunables/, local/), /etc/apparmor.d/disable/",
		apparmor.LoadedFile + " (which profiles are loaded, when readable)",
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

func runUsernsAppArmor(_ context.Context, e *facts.Env) finding.Result {
	p := facts.SysctlPath(aaRestrictKey)
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
			r = r.With(facts.SysctlPath(k), v)
			if x, err := parse.ParseSysctlInt([]byte(v)); err == nil {
				side[k] = x
			}
		}
	}
	r = withBootProblems(e, r)
	boot, bootSet := e.SysctlBoot().Last(aaRestrictKey)
	bootOn := false
	if bootSet {
		r = bootEvidence(r, boot)
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
	pol := e.AppArmor()
	if pol.DirErr != nil && len(bins) > 0 {
		r.Err = pol.DirErr
		r.Summary = fmt.Sprintf("AppArmor restricts user namespaces and %s cannot be read", apparmor.Dir)
		return r
	}
	if pol.LoadedKnown {
		r = r.With(apparmor.LoadedFile, fmt.Sprintf("%d profiles loaded", len(pol.Loaded)))
	}

	var checks []aaCheck
	for _, b := range bins {
		c := aaCheck{bin: b, Check: pol.Grants(b.real)}
		checks = append(checks, c)
		r = c.report(r)
	}
	for _, pr := range pol.Problems {
		r = r.Detail("%s", pr)
	}
	r = aaVerdictResult(e, r, checks, now, tempDoctor)
	if len(pol.Problems) > 0 && (r.Status == finding.Fail || r.Status == finding.Warn) {
		for _, c := range checks {
			if c.Verdict == apparmor.NoProfile {
				// A profile that could not be read may be the one that attaches: do not ask
				// for a second one.
				r.Err = errors.New(pol.Problems[0])
				r.Summary = fmt.Sprintf("no readable AppArmor profile grants userns to %s, and some profiles could not be read", c.bin.display())
				r.Intents = nil
				break
			}
		}
	}
	return r
}

// aaVerdictResult sets the status and summary from the checks of each binary.
func aaVerdictResult(e *facts.Env, r finding.Result, checks []aaCheck, now bool, tempDoctor string) finding.Result {
	var hard, soft []aaCheck
	var ok []string
	for _, c := range checks {
		switch {
		case c.Verdict == apparmor.Granted:
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

func hasAppArmorParser(e *facts.Env) bool {
	for _, p := range []string{"apparmor_parser", "/usr/sbin/apparmor_parser", "/sbin/apparmor_parser"} {
		if _, err := e.LookPath(p); err == nil {
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
func usernsBinaries(e *facts.Env) (bins []usernsBinary, tempDoctor string) {
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
		if p, err := e.LookPath(name); err == nil && path.IsAbs(p) {
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

// aaCheck is the policy's verdict for one binary the account will run.
type aaCheck struct {
	bin usernsBinary
	apparmor.Check
}

// short says in a few words what is wrong, for the summary.
func (c aaCheck) short() string {
	switch c.Verdict {
	case apparmor.NoUserns:
		return fmt.Sprintf("its profile %s has no userns rule", c.Ref.Prof.Name)
	case apparmor.Denied:
		return fmt.Sprintf("its profile %s denies userns", c.Ref.Prof.Name)
	case apparmor.Disabled:
		return fmt.Sprintf("its profile %s is disabled", c.Ref.Prof.Name)
	case apparmor.NotLoaded:
		return fmt.Sprintf("its profile %s is not loaded", c.Ref.Prof.Name)
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
	for _, e := range c.EvalErr {
		r = r.Detail("Could not evaluate the attachment %s for %s.", e, b.real)
	}
	where := fmt.Sprintf("%s:%d", c.Ref.File, c.Ref.Prof.Line)
	switch c.Verdict {
	case apparmor.Granted:
		v := fmt.Sprintf("profile %s attaches to %s and allows userns", c.Ref.Prof.Name, c.Ref.Prof.Attach)
		if c.Via != c.Ref.File {
			v += " (through " + c.Via + ")"
		}
		if c.Mode != "" {
			v += ", loaded (" + c.Mode + ")"
		}
		r = r.With(where, v)
		if !c.Ref.Prof.HasFlag("unconfined") {
			r = r.Detail("The profile %s for %s is confined (no flags=(unconfined)): it allows userns but may deny what %s does next (mounts, capabilities).",
				c.Ref.Prof.Name, b.real, b.name)
		}
	case apparmor.NoProfile:
		r = r.Detail("No profile in %s attaches to %s.", apparmor.Dir, b.real)
		if b.name == "rootlesskit" && b.real != "/usr/bin/rootlesskit" {
			r = r.Detail("The apparmor package ships a profile for /usr/bin/rootlesskit only; rootlesskit from get.docker.com/rootless (~/bin), nerdctl-full (/usr/local/bin) " +
				"or a release tarball needs its own (docker/docs#19638, rootless-containers/rootlesskit#439). Installing docker-ce-rootless-extras from Docker's apt " +
				"repository puts rootlesskit in /usr/bin instead.")
		}
	case apparmor.NoUserns:
		r = r.With(where, fmt.Sprintf("profile %s attaches to %s without a userns rule", c.Ref.Prof.Name, c.Ref.Prof.Attach))
	case apparmor.Denied:
		r = r.With(where, fmt.Sprintf("profile %s attaches to %s and denies userns", c.Ref.Prof.Name, c.Ref.Prof.Attach))
	case apparmor.Disabled:
		r = r.With(where, fmt.Sprintf("profile %s attaches to %s but is disabled by %s", c.Ref.Prof.Name, c.Ref.Prof.Attach, path.Join(apparmor.DisableDir, path.Base(c.Ref.File))))
	case apparmor.NotLoaded:
		r = r.With(where, fmt.Sprintf("profile %s allows userns for %s but is not in %s", c.Ref.Prof.Name, c.Ref.Prof.Attach, apparmor.LoadedFile))
	}
	return r
}

// fix is the intent that repairs the binary's situation. A new profile is only written where
// no profile attaches: a second profile for the same path would conflict with the first.
func (c aaCheck) fix() finding.Intent {
	b := c.bin
	file := c.Ref.File
	name := "apparmor-" + strings.ReplaceAll(strings.TrimPrefix(b.real, "/"), "/", ".")
	switch c.Verdict {
	case apparmor.NoUserns:
		target := file
		for _, inc := range c.Ref.Prof.Includes {
			if inc.Angle && strings.HasPrefix(inc.Path, "local/") {
				target = path.Join(apparmor.Dir, inc.Path) + " (which the profile includes) or " + file
				break
			}
		}
		return finding.ManualStep(name, fmt.Sprintf("add a `userns,` rule for %s to %s, then reload %s (apparmor_parser -r)", b.real, target, file))
	case apparmor.Denied:
		return finding.ManualStep(name, fmt.Sprintf("the AppArmor profile %s in %s denies userns for %s: remove the deny rule if that is not intended, then reload it (apparmor_parser -r)",
			c.Ref.Prof.Name, file, b.real))
	case apparmor.Disabled:
		return finding.ManualStep(name, fmt.Sprintf("re-enable the AppArmor profile %s: remove %s and load %s (apparmor_parser -r)",
			file, path.Join(apparmor.DisableDir, path.Base(file)), file))
	case apparmor.NotLoaded:
		return finding.ManualStep(name, fmt.Sprintf("load the AppArmor profile %s (apparmor_parser -r %s, or systemctl reload apparmor)", file, file))
	}
	return finding.AppArmorProfile(b.real, fmt.Sprintf("let %s create user namespaces under %s=1", b.name, aaRestrictKey))
}
