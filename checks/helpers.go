package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/moby/sys/mountinfo"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

// Helpers several probes share: wording, the boot configuration of sysctls, the login session,
// files and paths of the account. A helper used by one probe stays in that probe's file.

// orNone is s, or "none" when s is empty.
func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// isAre agrees a verb with a count.
func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// ---- sysctls: now and at boot

// bootEvidence adds a setting of the boot configuration as evidence: the file, and the line
// in it.
func bootEvidence(r finding.Result, s facts.SysctlSetting) finding.Result {
	return r.With(s.File, fmt.Sprintf("line %d: %s = %s", s.Line, s.Key, s.Value))
}

// withBootProblems notes the boot configuration files that could not be read: the value a
// key gets at boot may then differ from what the probe saw.
func withBootProblems(e *facts.Env, r finding.Result) finding.Result {
	for _, p := range e.SysctlBoot().Problems {
		r = r.Detail("Could not read %s, so the value set at boot may differ from what was checked.", p)
	}
	return r
}

// readSysctlInt reads the integer sysctl key for a probe: r starts its result (evidence of
// the value) and n is the number. absent says the key does not exist on a kernel whose /proc/sys
// is readable; each probe says what that means. When stop is set, r is the result to return as
// it is: the value is unreadable, /proc/sys is hidden, or the value is not a number.
func readSysctlInt(e *facts.Env, key string) (r finding.Result, n int64, absent, stop bool) {
	p := facts.SysctlPath(key)
	val, err := e.Sysctl(key)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !e.ProcSysVisible() {
			return finding.Undecided(err, "/proc/sys is not readable, so %s cannot be checked", key), 0, false, true
		}
		return finding.Result{}, 0, true, false
	case err != nil:
		return finding.Undecided(err, "cannot read %s", p), 0, false, true
	}
	r = finding.Result{}.With(p, val)
	n, err = parse.ParseSysctlInt([]byte(val))
	if err != nil {
		r.Err = err
		r.Summary = fmt.Sprintf("%s holds %q, not a number", p, finding.Clip(val, 40))
		return r, 0, false, true
	}
	return r, n, false, false
}

// ---- the login session

// loginSessionStep is the one way to get a real login session of the account (with
// XDG_RUNTIME_DIR, the user manager and its bus) from a shell reached through su or sudo,
// which opens none (docs/failures/catalogue.json#no-pam-systemd-session; docker/docs#14491,
// containerd/nerdctl#686). session.xdg-runtime-dir and session.systemd ask for the same step.
func loginSessionStep(e *facts.Env) finding.Intent {
	return finding.ManualStep("login-session", fmt.Sprintf(
		"log in as %s through a real login session: `machinectl shell %s@` (package systemd-container) or `ssh %s@localhost`, not su or sudo",
		e.User.Name, e.User.Name, e.User.Name))
}

// systemdContainerTool asks for machinectl, which the login-session step names.
func systemdContainerTool() finding.Intent {
	return finding.InstallTool(string(distro.ToolSystemdCont), "machinectl shell USER@ opens a real login session")
}

// lingerFile is logind's marker for a lingering account (loginctl enable-linger writes it).
func lingerFile(name string) string { return "/var/lib/systemd/linger/" + name }

// lingering reports whether the account lingers; err is set when that cannot be told.
func lingering(e *facts.Env) (bool, error) {
	if e.User.Name == "" {
		return false, errors.New("the account has no name")
	}
	_, err := e.Host.Stat(lingerFile(e.User.Name))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, err
}

// systemdConfFiles lists the files of a systemd configuration in the order systemd applies
// them (facts.Env.SystemdConfFiles).
func systemdConfFiles(e *facts.Env, mains, dropinDirs []string) (files []string, found bool) {
	return e.SystemdConfFiles(mains, dropinDirs)
}

// isSocket reports whether p exists and is a socket; a missing path is (false, nil).
func isSocket(e *facts.Env, p string) (bool, error) {
	fi, err := e.Host.Stat(p)
	switch {
	case err == nil:
		return fi.Mode&fs.ModeSocket != 0, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, err
}

// ---- paths of the account

// homeRel shortens a path under the account's home to ~/… for summaries.
func homeRel(e *facts.Env, p string) string {
	h := e.User.Home
	if h != "" && h != "/" && strings.HasPrefix(p, h+"/") {
		return "~/" + strings.TrimPrefix(p, h+"/")
	}
	return p
}

// subvolRmAllowed reports whether a btrfs mount lets unprivileged accounts delete subvolumes.
func subvolRmAllowed(m *mountinfo.Info) bool {
	return m != nil && (parse.HasMountOption(m.VFSOptions, "user_subvol_rm_allowed") || parse.HasMountOption(m.Options, "user_subvol_rm_allowed"))
}

// ---- the kernel command line

// cmdlineStep is the manual step that changes the kernel command line: add parameters,
// remove others, reboot. Changing the boot loader and rebooting is for a person to decide, so
// it is a manual step, but written for the boot setup the host has: a Raspberry Pi's single
// line in cmdline.txt, grubby on the Fedora family (it edits every installed kernel's entry),
// GRUB_CMDLINE_LINUX in /etc/default/grub and the distribution's grub command elsewhere.
func cmdlineStep(e *facts.Env, name string, add, remove []string) finding.Intent {
	var what []string
	if len(add) > 0 {
		what = append(what, "add "+strings.Join(add, " "))
	}
	if len(remove) > 0 {
		what = append(what, "remove "+strings.Join(remove, " "))
	}
	change := strings.Join(what, " and ")
	for _, f := range []string{"/boot/firmware/cmdline.txt", "/boot/cmdline.txt"} {
		if fi, err := e.Host.Stat(f); err == nil && fi.Mode.IsRegular() {
			return finding.ManualStep(name, fmt.Sprintf("on the kernel command line, %s: edit the single line of %s, then reboot", change, f))
		}
	}
	if e.Distro.Family == distro.FamilyFedora {
		var args []string
		if len(add) > 0 {
			args = append(args, fmt.Sprintf("--args=%q", strings.Join(add, " ")))
		}
		if len(remove) > 0 {
			args = append(args, fmt.Sprintf("--remove-args=%q", strings.Join(remove, " ")))
		}
		return finding.ManualStep(name, fmt.Sprintf("on the kernel command line, %s: grubby --update-kernel=ALL %s, then reboot", change, strings.Join(args, " ")))
	}
	update := "update-grub (Debian, Ubuntu), grub2-mkconfig -o /boot/grub2/grub.cfg (openSUSE) or grub-mkconfig -o /boot/grub/grub.cfg (Arch)"
	switch e.Distro.Family {
	case distro.FamilyDebian:
		update = "update-grub"
	case distro.FamilySUSE:
		update = "grub2-mkconfig -o /boot/grub2/grub.cfg"
	case distro.FamilyArch:
		update = "grub-mkconfig -o /boot/grub/grub.cfg"
	}
	return finding.ManualStep(name, fmt.Sprintf("on the kernel command line, %s: edit GRUB_CMDLINE_LINUX in /etc/default/grub, run %s, then reboot (another boot loader: its own configuration)", change, update))
}

// ---- results

// mergeResults combines per-engine verdicts: the worst one leads, the others' summaries
// become details; evidence and fixes are kept from all. Undecided beats pass, not warn/fail.
func mergeResults(rs []finding.Result) finding.Result {
	if len(rs) == 1 {
		return rs[0]
	}
	rank := func(r finding.Result) int {
		if r.Err != nil {
			return 2 // as the runner will: a warning
		}
		return r.Status.Severity()
	}
	lead := 0
	for i, r := range rs {
		if rank(r) > rank(rs[lead]) {
			lead = i
		}
	}
	out := rs[lead]
	out.Details = append([]string(nil), out.Details...)
	out.Evidence = append([]finding.Evidence(nil), out.Evidence...)
	out.Intents = append([]finding.Intent(nil), out.Intents...)
	var passes []string
	for i, r := range rs {
		if i == lead {
			continue
		}
		if rank(r) == rank(out) && r.Status == finding.Pass && out.Status == finding.Pass {
			passes = append(passes, r.Summary)
		} else {
			out.Details = append(out.Details, "also: "+r.Summary)
		}
		for _, d := range r.Details {
			// Both engines' data roots often sit on the same mount and get the same note.
			if !slices.Contains(out.Details, d) {
				out.Details = append(out.Details, d)
			}
		}
		for _, ev := range r.Evidence {
			if !slices.Contains(out.Evidence, ev) {
				out.Evidence = append(out.Evidence, ev)
			}
		}
		out.Intents = append(out.Intents, r.Intents...)
	}
	if len(passes) > 0 {
		out.Summary = strings.Join(append([]string{out.Summary}, passes...), "; ")
	}
	return out
}

// ---- engines

// EngineNeeds are, per engine, the generic probes whose failure stops that engine, and the
// live proof's steps that stand for it (docs/cli.md, "--engine"). "Ready" means the engine
// runs a container for the account. Podman runs no RootlessKit: it needs the user namespace
// and the id maps; /dev/net/tun only for its default network, per container (`--network
// none` works without it), so net.tun is a warning of engine.podman, not a need; nor
// XDG_RUNTIME_DIR (its run root falls back to /tmp, docs/engines.md §1.6), not
// net.driver (RootlessKit's choice of driver) and not iptables (its default rootless
// network is slirp4netns or pasta, no bridge). Docker, nerdctl and BuildKit start under
// RootlessKit: they need everything the live proof proves, XDG_RUNTIME_DIR for its state
// dir; Docker and nerdctl also the network driver and iptables inside the namespace, and
// Docker its storage driver and data root.
var EngineNeeds = map[string][]string{
	facts.EnginePodman: {"identity.user", "idmap.newuidmap", "idmap.subuid", "idmap.subgid", "kernel.version",
		"userns.clone", "userns.max",
		"runtime.userns", "runtime.idmap"},
	facts.EngineDocker: {"identity.user", "idmap.newuidmap", "idmap.subuid", "idmap.subgid", "kernel.version",
		"userns.clone", "userns.max", "userns.apparmor", "session.xdg-runtime-dir", "net.driver", "net.tun",
		"net.iptables", "storage.driver", "storage.data-root",
		"runtime.userns", "runtime.idmap", "runtime.mount", "runtime.overlay", "runtime.network", "runtime.port"},
	facts.EngineNerdctl: {"identity.user", "idmap.newuidmap", "idmap.subuid", "idmap.subgid", "kernel.version",
		"userns.clone", "userns.max", "userns.apparmor", "session.xdg-runtime-dir", "net.driver", "net.tun",
		"net.iptables",
		"runtime.userns", "runtime.idmap", "runtime.mount", "runtime.overlay", "runtime.network", "runtime.port"},
	facts.EngineBuildkit: {"identity.user", "idmap.newuidmap", "idmap.subuid", "idmap.subgid", "kernel.version",
		"userns.clone", "userns.max", "userns.apparmor", "session.xdg-runtime-dir",
		"runtime.userns", "runtime.idmap", "runtime.mount", "runtime.overlay"},
}

// EngineProbe is the probe id of an engine ("engine.podman").
func EngineProbe(engine string) string { return "engine." + engine }

// IsEngineProbe reports whether id is one engine's verdict (engine.docker, …) rather than a
// generic probe.
func IsEngineProbe(id string) bool { return strings.HasPrefix(id, EngineProbe("")) }

// engineNames are the engines' names in reports.
var engineNames = map[string]string{
	facts.EngineDocker: "Docker", facts.EnginePodman: "Podman", facts.EngineNerdctl: "nerdctl", facts.EngineBuildkit: "BuildKit",
}

// verdict gathers what an engine probe finds: the reasons the engine will not run
// containers (fails), its limitations (warns), the details, evidence and fixes.
type verdict struct {
	// covered are generic probes a rule of the engine already judged (needs skips them).
	covered map[string]bool
	e       *facts.Env
	eng     finding.Engine
	r       finding.Result
	fails   []string
	warns   []string
}

func newVerdict(e *facts.Env, engine string) *verdict {
	return &verdict{covered: map[string]bool{}, e: e, eng: finding.Engine{Name: engine, Installed: true, Reasons: []string{}}}
}

// fail adds a reason the engine will not run containers, with its fixes.
func (v *verdict) fail(reason string, fix ...finding.Intent) {
	v.fails = append(v.fails, reason)
	v.r = v.r.Fix(fix...)
}

// warn adds a limitation, with its fixes.
func (v *verdict) warn(reason string, fix ...finding.Intent) {
	v.warns = append(v.warns, reason)
	v.r = v.r.Fix(fix...)
}

func (v *verdict) detail(format string, args ...any) { v.r = v.r.Detail(format, args...) }
func (v *verdict) with(ev ...finding.Evidence)       { v.r.Evidence = append(v.r.Evidence, ev...) }

// needs folds in the verdicts of the generic probes the engine needs (EngineNeeds; the
// static ones, through the run's shared results): each that fails is a reason. Their fixes
// stay with their own results.
func (v *verdict) needs(ctx context.Context, engine string) {
	for _, id := range EngineNeeds[engine] {
		p, ok := probeByID(id)
		if !ok || v.covered[id] {
			continue // a runtime.* step: the CLI folds those in
		}
		run, key := p.Run, id
		if part, ok := engineParts[engine][id]; ok {
			run, key = part, id+"@"+engine
		}
		r := v.e.ProbeResult(key, func() finding.Result { return run(ctx, v.e) })
		if r.Status == finding.Fail {
			v.fails = append(v.fails, fmt.Sprintf("%s fails: %s", id, strings.Join(strings.Fields(r.Summary), " ")))
			v.eng.BlockedBy = append(v.eng.BlockedBy, id)
		}
	}
}

// engineParts are the generic probes that judge several engines at once, by engine: the
// part an engine folds in instead of the whole verdict. storage.driver and storage.data-root
// judge rootless dockerd's and podman's storage in one line since issue 14; engine.docker must
// not fail because podman's graphroot cannot hold overlay layers (engine.podman judges that).
var engineParts = map[string]map[string]func(context.Context, *facts.Env) finding.Result{
	facts.EngineDocker: {"storage.driver": storageDriverDocker, "storage.data-root": storageDataRootDocker},
}

// probeIndex holds the registered probes by id. It is filled in init: the engine probes look
// probes up through it, and All lists the engine probes, a cycle Go refuses in an initializer.
var probeIndex map[string]Probe

func init() {
	probeIndex = map[string]Probe{}
	for _, p := range All() {
		probeIndex[p.ID] = p
	}
}

// probeByID finds a registered probe.
func probeByID(id string) (Probe, bool) {
	p, ok := probeIndex[id]
	return p, ok
}

// result is the probe's result: fail (not ready) with the first reason as the summary,
// else warn or pass.
func (v *verdict) result(version string) (r finding.Result) {
	name := engineNames[v.eng.Name]
	v.eng.Version = version
	title := strings.TrimSpace(name + " " + version)
	r = v.r
	// The result must not point into the verdict, which holds the Env (and with it the
	// whole host) for as long as a fleet keeps the report.
	defer func() { eng := v.eng; r.Engine = &eng }()
	switch {
	case len(v.fails) > 0:
		v.eng.Ready = false
		v.eng.Reasons = v.fails
		r = r.WithStatus(finding.Fail, "%s: not ready — %s", title, v.fails[0])
		for _, f := range v.fails[1:] {
			r.Details = append([]string{"Also: " + f + "."}, r.Details...)
		}
	case len(v.warns) > 0:
		v.eng.Ready = true
		r = r.WithStatus(finding.Warn, "%s: ready, but %s", title, v.warns[0])
		for _, w := range v.warns[1:] {
			r.Details = append([]string{"Also: " + w + "."}, r.Details...)
		}
	default:
		v.eng.Ready = true
		r = r.WithStatus(finding.Pass, "%s: ready (%s)", title, strings.Join(nonEmpty(v.eng.Runtime, v.eng.Network, v.eng.Storage), ", "))
	}
	return r
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// notInstalled is the skip of an engine that is not installed, with what would install it.
func notInstalled(e *facts.Env, engine string, tools ...distro.Tool) finding.Result {
	var pkgs []string
	for _, t := range tools {
		if p, ok := e.Distro.Package(t); ok {
			pkgs = append(pkgs, p)
		}
	}
	r := finding.Skipf("%s is not installed", engineNames[engine])
	if len(pkgs) > 0 {
		r = finding.Skipf("%s is not installed (on %s: install %s)", engineNames[engine], orNone(e.Distro.PrettyName), strings.Join(pkgs, " and "))
	}
	r.Engine = &finding.Engine{Name: engine, Reasons: []string{"not installed"}}
	return r
}

// wslVersion is 1 or 2 on WSL (WSL 1 kernels say "Microsoft", WSL 2 kernels
// "microsoft-standard"), 0 elsewhere.
func wslVersion(e *facts.Env) int {
	rel := strings.ToLower(e.Host.KernelRelease())
	if rel == "" {
		if data, err := e.Host.ReadFile("/proc/version"); err == nil {
			rel = strings.ToLower(string(data))
		}
	}
	switch {
	case strings.Contains(rel, "microsoft-standard") || strings.Contains(rel, "wsl2"):
		return 2
	case strings.Contains(rel, "microsoft"):
		return 1
	}
	return 0
}
