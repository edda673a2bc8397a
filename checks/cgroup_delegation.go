package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var cgroupDelegation = Probe{
	ID:    "cgroup.delegation",
	Title: "cgroup controller delegation",
	Fails: "fewer than `cpu cpuset io memory pids` delegated (warn; fail if none under systemd)",
	Why: "On cgroup v2 a rootless engine can only limit what it was delegated: systemd hands the " +
		"controllers listed in Delegate= of user@.service to the account's user manager. By " +
		"default that is memory and pids (cpu too since systemd 252); cpuset and io never, so " +
		"--cpus, --cpuset-cpus and --blkio-weight fail or are ignored until they are delegated.",
	Reads: []string{
		"/proc/self/cgroup (when checking the running account)",
		"/sys/fs/cgroup/<own cgroup>/cgroup.controllers",
		"/sys/fs/cgroup/user.slice/user-UID.slice/user@UID.service/cgroup.controllers",
		"user@.service and its drop-ins (Delegate=) when the user manager is not running",
		"/sys/fs/cgroup/cgroup.controllers and /proc/cmdline (cgroup_disable=)",
		"/boot/firmware/cmdline.txt, /boot/cmdline.txt (where the kernel command line is set)",
	},
	Fixes: []finding.Kind{finding.Delegate, finding.Relogin, finding.Manual},
	Run:   runCgroupDelegation,
}

// delegatedControllers are the controllers Docker's and podman's rootless docs ask to
// delegate (https://docs.docker.com/engine/security/rootless/#limiting-resources,
// https://rootlesscontaine.rs/getting-started/common/cgroup2/).
var delegatedControllers = []string{"cpu", "cpuset", "io", "memory", "pids"}

// controllerFlags says what stops working without each controller.
var controllerFlags = map[string]string{
	"cpu":    "--cpus, --cpu-shares",
	"cpuset": "--cpuset-cpus, --cpuset-mems",
	"io":     "--blkio-weight, --device-read-bps, --device-write-bps",
	"memory": "--memory, --memory-swap",
	"pids":   "--pids-limit",
}

const cgroupRoot = "/sys/fs/cgroup"

// cgroupSource is a cgroup whose cgroup.controllers tells what the account was delegated.
type cgroupSource struct {
	dir   string // absolute, under /sys/fs/cgroup
	label string // for the summary: "user@1000.service"
	// userManager is true for a user@UID.service cgroup: systemd's Delegate= decides it, so a
	// drop-in fixes it.
	userManager bool
}

func runCgroupDelegation(_ context.Context, e *facts.Env) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	if mode := e.Cgroup(); mode != facts.CgroupUnified {
		return finding.Skipf("controllers can be delegated to an ordinary account only on cgroup v2; this host is %s (see cgroup.version)", mode)
	}
	uid := e.User.UID
	svcName := fmt.Sprintf("user@%d.service", uid)
	svcDir := fmt.Sprintf("%s/user.slice/user-%d.slice/%s", cgroupRoot, uid, svcName)

	var r finding.Result
	var sources []cgroupSource
	if !e.OnBehalf {
		own, res := ownCgroupSources(e, uid, svcName)
		r.Evidence = append(r.Evidence, res.Evidence...)
		r.Details = append(r.Details, res.Details...)
		sources = append(sources, own...)
	}
	if !slices.ContainsFunc(sources, func(s cgroupSource) bool { return s.dir == svcDir }) {
		sources = append(sources, cgroupSource{dir: svcDir, label: svcName, userManager: true})
	}

	for _, src := range sources {
		file := src.dir + "/cgroup.controllers"
		data, err := e.Host.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return finding.Undecided(err, "cannot read %s", file)
		}
		have, err := parse.ParseControllers(data)
		if err != nil {
			return finding.Undecided(fmt.Errorf("parsing %s: %w", file, err), "cannot parse %s", file)
		}
		return judgeDelegation(e, r.With(file, orNone(strings.Join(have, " "))), src, have)
	}

	// No cgroup to read: the user manager is not running (no session, no linger), or there
	// is no systemd at all. Fall back on what user@.service is configured to delegate.
	r = r.With(svcDir+"/cgroup.controllers", "(absent)")
	conf, confRes, unitFound := userManagerDelegation(e, uid)
	r.Evidence = append(r.Evidence, confRes.Evidence...)
	r.Details = append(r.Details, confRes.Details...)
	var configured, missing []string
	for _, c := range delegatedControllers {
		if conf.Has(c) {
			configured = append(configured, c)
		} else {
			missing = append(missing, c)
		}
	}
	fix := finding.DelegateControllers(delegatedControllers, "resource limits of rootless containers need these controllers in user@.service")

	if !e.SystemdRunning() {
		switch {
		case !unitFound:
			// docs/failures/catalogue.json#cgroup-v2-without-user-owned-cgroup: a warning, as
			// runc and crun go without a cgroup they may not create unless limits are asked
			// for ("rootless needs no limits + no cgrouppath when no permission is granted for
			// cgroups"; containers/podman#11563, OpenRC/openrc#452).
			return r.WithStatus(finding.Warn, "systemd is not running: no user manager delegates cgroup controllers to %s, so resource limits will not apply", e.User.Name).
				Detail("Without a systemd user manager nothing delegates a cgroup v2 subtree to the account: containers run, but limits are ignored (Docker: \"Running in rootless-mode without cgroups\") or refused (Podman: \"mkdir /sys/fs/cgroup/…: permission denied\" for docker run --memory, --cpus and --pids-limit).").
				Detail("Another init system would have to create a cgroup owned by %s with the controllers %s enabled in its parent's cgroup.subtree_control.", e.User.Name, strings.Join(delegatedControllers, " ")).
				Fix(finding.ManualStep("cgroup-owned", fmt.Sprintf(
					"for resource limits without systemd, have root create a cgroup for %[1]s and hand it over: mkdir /sys/fs/cgroup/%[1]s; enable %[2]s in /sys/fs/cgroup/cgroup.subtree_control; chown %[1]s the directory and its cgroup.procs, cgroup.subtree_control and cgroup.threads; then move the session that starts the engine into it (echo PID > /sys/fs/cgroup/%[1]s/cgroup.procs, as root). Without it, run containers without --memory, --cpus and --pids-limit",
					e.User.Name, strings.Join(delegatedControllers, " "))))
		case len(missing) == 0:
			return r.WithStatus(finding.Skip, "systemd is not running; user@.service is configured to delegate %s for when it does", strings.Join(delegatedControllers, " "))
		}
		return r.WithStatus(finding.Warn, "systemd is not running, so nothing delegates cgroup controllers to %s; user@.service would delegate only %s", e.User.Name, orNone(strings.Join(configured, " "))).
			Detail("Missing: %s. A drop-in for user@.service with Delegate=%s would take effect when the system boots with systemd; it is not planned here because systemd cannot reload units while it is not running.", strings.Join(missing, " "), strings.Join(delegatedControllers, " "))
	}

	switch {
	case !unitFound:
		return r.WithStatus(finding.Warn, "%s is not running, so the delegated controllers cannot be read", svcName).
			Detail("The user manager starts when %s logs in (pam_systemd) or at boot with lingering; see session.systemd and session.linger.", e.User.Name)
	case len(missing) == 0:
		return r.WithStatus(finding.Pass, "user@.service is configured to delegate %s (%s is not running now)", strings.Join(delegatedControllers, " "), svcName)
	}
	return r.WithStatus(finding.Warn, "user@.service is configured to delegate only %s: %s missing", orNone(strings.Join(configured, " ")), strings.Join(missing, " ")).
		Detail("%s is not running now (no session, no lingering), so this was read from the unit's configuration.", svcName).
		Detail("%s", ignoredFlags(missing)).
		Fix(fix)
}

// cmdlineDisabled lists the controllers of want that /proc/cmdline turns off with
// cgroup_disable= (kernel-parameters.txt: a comma-separated list; the last cgroup_enable= of a
// controller after it turns it back on, which the kernel's parser honours in order).
func cmdlineDisabled(e *facts.Env, want []string) []string {
	data, err := e.Host.ReadFile("/proc/cmdline")
	if err != nil {
		return nil
	}
	off := map[string]bool{}
	for _, p := range parse.ParseCmdline(data) {
		if p.Key == "--" && !p.HasValue {
			break // the rest is init's
		}
		switch p.Key {
		case "cgroup_disable":
			for _, c := range strings.Split(p.Value, ",") {
				off[c] = true
			}
		case "cgroup_enable":
			for _, c := range strings.Split(p.Value, ",") {
				delete(off, c)
			}
		}
	}
	var out []string
	for _, c := range want {
		if off[c] {
			out = append(out, c)
		}
	}
	return out
}

// judgeDelegation decides from the controllers read in src.
func judgeDelegation(e *facts.Env, r finding.Result, src cgroupSource, have []string) finding.Result {
	missing := parse.Missing(have, delegatedControllers)
	var got []string
	for _, c := range delegatedControllers {
		if slices.Contains(have, c) {
			got = append(got, c)
		}
	}
	if len(missing) == 0 {
		return r.WithStatus(finding.Pass, "%s delegated to %s", strings.Join(delegatedControllers, " "), src.label)
	}

	// A controller the kernel does not offer at all cannot be delegated: the kernel command
	// line turned it off (cgroup_disable=memory, Raspberry Pi kernels' default;
	// docs/failures/catalogue.json#memory-cgroup-disabled-by-cmdline), the kernel was built
	// without it, or a container's cgroup namespace hides it.
	var absent []string
	var fixes []finding.Intent
	if data, err := e.Host.ReadFile(cgroupRoot + "/cgroup.controllers"); err == nil && src.dir != cgroupRoot {
		if root, err := parse.ParseControllers(data); err == nil {
			if absent = parse.Missing(root, missing); len(absent) > 0 {
				r = r.With(cgroupRoot+"/cgroup.controllers", orNone(strings.Join(root, " ")))
				off := cmdlineDisabled(e, absent)
				if len(off) > 0 {
					r = r.With("/proc/cmdline", "cgroup_disable="+strings.Join(off, ",")).
						Detail("The kernel command line turns off the %s controller (cgroup_disable=%s): no delegation can give it back. Raspberry Pi kernels do this by default (raspberrypi/linux#1198, containers/podman#10814).", strings.Join(off, " "), strings.Join(off, ","))
					var add []string
					for _, c := range off {
						add = append(add, "cgroup_enable="+c)
					}
					if slices.Contains(off, "memory") {
						add = append(add, "cgroup_memory=1") // kernels before 6.1 on the Raspberry Pi also read this one
					}
					fixes = append(fixes, cmdlineStep(e, "cgroup-enable", add, nil))
				} else {
					r = r.Detail("The kernel offers no %s controller at the cgroup root: delegation cannot add it (kernel configuration, or the cgroup namespace of a container).", strings.Join(absent, " "))
				}
			}
		}
	}
	delegatable := parse.Missing(absent, missing)

	switch {
	case len(delegatable) == 0:
		// Nothing a drop-in or a subtree_control write could change.
	case src.userManager:
		fixes = append(fixes,
			finding.DelegateControllers(delegatedControllers, "resource limits of rootless containers need these controllers in user@.service"),
			finding.AskRelogin("the user manager reads Delegate= when it starts"))
		r = r.Detail("systemd delegates only memory and pids to user@.service by default (cpu too since systemd 252), never cpuset or io (containers/podman#22147, rootless-containers/rootlesscontaine.rs#78).")
	default:
		fixes = append(fixes, finding.ManualStep("cgroup-delegation", fmt.Sprintf("enable the controllers %s for %s (the cgroup %s runs in) in its parent's cgroup.subtree_control", strings.Join(delegatable, " "), src.dir, e.User.Name)))
	}

	if len(got) == 0 {
		status := finding.Warn
		if e.SystemdRunning() && src.userManager {
			status = finding.Fail
		}
		return r.WithStatus(status, "no cgroup controllers are delegated to %s", src.label).
			Detail("%s", ignoredFlags(missing)).
			Fix(fixes...)
	}
	return r.WithStatus(finding.Warn, "only %s delegated to %s: %s missing", strings.Join(got, " "), src.label, strings.Join(missing, " ")).
		Detail("%s", ignoredFlags(missing)).
		Fix(fixes...)
}

func ignoredFlags(missing []string) string {
	var parts []string
	for _, c := range missing {
		parts = append(parts, fmt.Sprintf("%s (%s)", c, controllerFlags[c]))
	}
	return "Without " + strings.Join(parts, ", ") + " those limits fail or are ignored in rootless containers."
}

// ownCgroupSources finds the running account's own cgroup from /proc/self/cgroup: the
// user@UID.service it runs under, or else the top-most cgroup above it that the account owns
// (a subtree delegated some other way: a system service with User= and Delegate=yes, a
// container's cgroup namespace). A problem reading it is noted, not fatal: the standard
// user@UID.service path is tried next.
func ownCgroupSources(e *facts.Env, uid int, svcName string) ([]cgroupSource, finding.Result) {
	var r finding.Result
	data, err := e.Host.ReadFile("/proc/self/cgroup")
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			r = r.Detail("Could not read /proc/self/cgroup: %v.", err)
		}
		return nil, r
	}
	entries, err := parse.ParseProcCgroup(data)
	if err != nil {
		return nil, r.Detail("Could not parse /proc/self/cgroup: %v.", err)
	}
	own, ok := parse.UnifiedCgroupPath(entries)
	if !ok {
		return nil, r.Detail("/proc/self/cgroup has no cgroup v2 (0::) line.")
	}
	r = r.With("/proc/self/cgroup", "0::"+finding.ClipLine(own, 200))
	if svc, ok := parse.UserServiceCgroup(own, uid); ok {
		return []cgroupSource{{dir: cgroupRoot + svc, label: svcName + " (the account's own cgroup)", userManager: true}}, r
	}
	top := ""
	for dir := path.Join(cgroupRoot, path.Clean("/"+own)); ; dir = path.Dir(dir) {
		fi, err := e.Host.Stat(dir)
		if err != nil || !fi.IsDir() || fi.UID != uid {
			break
		}
		top = dir
		if dir == cgroupRoot {
			break
		}
	}
	if top == "" {
		return nil, r
	}
	rel := strings.TrimPrefix(top, cgroupRoot)
	if rel == "" {
		rel = "/"
	}
	return []cgroupSource{{dir: top, label: "the account's own cgroup " + rel}}, r
}

// unitSearchPath is systemd's system unit search path, highest priority first
// (systemd.unit(5)); /lib/systemd/system is the unmerged-/usr Debian location.
var unitSearchPath = []string{
	"/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
	"/usr/lib/systemd/system", "/lib/systemd/system",
}

// userManagerDelegation reads Delegate= of user@UID.service from its unit file and the
// template and instance drop-ins, for when the manager is not running and its cgroup cannot
// be read. found is false when no user@.service exists.
func userManagerDelegation(e *facts.Env, uid int) (d parse.Delegation, r finding.Result, found bool) {
	apply := func(file string) {
		data, err := e.Host.ReadFile(file)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				r = r.Detail("Could not read %s: %v.", file, err)
			}
			return
		}
		opts, err := parse.ParseConf(data)
		if err != nil {
			r = r.Detail("%s: %v (the lines before it were used).", file, err)
		}
		for _, v := range parse.ConfValues(opts, "Service", "Delegate") {
			d.Apply(v)
			r = r.With(file, "Delegate="+finding.ClipLine(v, 200))
		}
	}
	var mains, dropins []string
	for _, dir := range unitSearchPath {
		mains = append(mains, dir+"/user@.service")
		dropins = append(dropins, fmt.Sprintf("%s/user@%d.service.d", dir, uid), dir+"/user@.service.d")
	}
	files, found := systemdConfFiles(e, mains, dropins)
	if !found {
		return d, r, false
	}
	for _, f := range files {
		apply(f)
	}
	return d, r, true
}
