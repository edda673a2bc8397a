package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var sessionDBus = Probe{
	ID:    "session.dbus",
	Title: "Session bus",
	Fails: "no session bus where the systemd cgroup driver needs it (cgroup v2 + systemd)",
	Why: "With cgroup v2 and systemd, runc, crun and podman use the systemd cgroup driver: they " +
		"ask the account's user manager over its session bus to create a scope for each " +
		"container. Without the per-user bus (package dbus-user-session on Debian and Ubuntu) " +
		"container start fails with \"read unix @->/run/systemd/private: read: connection reset " +
		"by peer\". On cgroup v1 or without systemd the cgroupfs driver is used and no bus is needed.",
	Reads: []string{"$DBUS_SESSION_BUS_ADDRESS (when checking the running account)", "<runtime dir>/bus", "/var/lib/dpkg/status (Debian family)"},
	Fixes: []finding.Kind{finding.Package, finding.Relogin, finding.Linger, finding.Manual},
	Run:   runSessionDBus,
}

// busSocket is where the account's session bus should be.
type busSocket struct {
	path     string // a socket on the filesystem, "" otherwise
	abstract string // a Linux abstract socket name
	other    string // a transport that cannot be looked at (tcp, …)
	fromEnv  bool   // named by $DBUS_SESSION_BUS_ADDRESS
}

// The static probe only looks at the socket; connecting (is systemd1 on it?) is the live
// D-Bus check's job.
func runSessionDBus(_ context.Context, e *facts.Env) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	loc, r := findSessionBus(e, finding.Result{})
	// Where the bus matters: the systemd cgroup driver needs cgroup v2 and a user manager.
	matters := e.Cgroup() == facts.CgroupUnified && e.SystemdRunning()
	notNeeded := func(r finding.Result, what string) finding.Result {
		why := fmt.Sprintf("on cgroup %s engines use the cgroupfs driver, which needs no session bus", e.Cgroup())
		if e.Cgroup() == facts.CgroupUnified {
			why = "systemd is not PID 1, so engines use the cgroupfs driver and there is no user manager to reach"
		}
		return r.WithStatus(finding.Skip, "%s; not needed here: %s", what, why).
			Detail("The per-user bus becomes necessary on a host with cgroup v2 and systemd, for the systemd cgroup driver.")
	}

	fallback := e.RuntimeDir() + "/bus"
	switch {
	case loc.abstract != "" || loc.other != "":
		what := "abstract socket @" + loc.abstract
		if loc.other != "" {
			what = "the " + loc.other + " transport"
		}
		if ok, _ := isSocket(e, fallback); ok {
			return r.With(fallback, "socket").WithStatus(finding.Pass, "session bus at %s", fallback).
				Detail("DBUS_SESSION_BUS_ADDRESS names %s, which cannot be checked without connecting.", what)
		}
		if !matters {
			return notNeeded(r, "the session bus is "+what)
		}
		state, pr := dbusUserSessionState(e)
		r.Evidence = append(r.Evidence, pr.Evidence...)
		r = r.With(fallback, "(absent)").WithStatus(finding.Warn, "the session bus is %s and there is no user bus at %s", what, fallback).
			Detail("An abstract or network session bus usually comes from dbus-launch in an X11 session, not from the systemd user manager; the systemd cgroup driver needs the user manager's bus. Whether this one serves systemd can only be told by connecting.")
		if state == pkgInstalled {
			return r.Fix(loginSessionStep(e), systemdContainerTool())
		}
		return r.Fix(dbusPackageFixes()...)
	}

	fi, err := e.Host.Stat(loc.path)
	switch {
	case err == nil && fi.Mode&fs.ModeSocket != 0:
		r = r.With(loc.path, fmt.Sprintf("socket owner=%d", fi.UID))
		if fi.UID != e.User.UID && e.User.UID != 0 {
			// An address inherited through sudo -E or su from the calling account.
			if !matters {
				return notNeeded(r, fmt.Sprintf("the session bus %s belongs to uid %d", loc.path, fi.UID))
			}
			return r.WithStatus(finding.Fail, "the session bus %s belongs to uid %d, not to %s", loc.path, fi.UID, e.User.Name).
				Detail("DBUS_SESSION_BUS_ADDRESS was inherited from the account that ran su or sudo; the engine would talk to that account's user manager and be refused.").
				Fix(loginSessionStep(e), systemdContainerTool())
		}
		return r.WithStatus(finding.Pass, "session bus at %s", loc.path)
	case err == nil:
		r = r.With(loc.path, "exists but is not a socket")
	case errors.Is(err, fs.ErrNotExist):
		r = r.With(loc.path, "(absent)")
	default:
		return finding.Undecided(err, "cannot stat the session bus socket %s", loc.path)
	}

	if loc.fromEnv && loc.path != fallback {
		if ok, _ := isSocket(e, fallback); ok {
			r = r.With(fallback, "socket")
			if !matters {
				return notNeeded(r, "DBUS_SESSION_BUS_ADDRESS points to a missing socket")
			}
			return r.WithStatus(finding.Fail, "DBUS_SESSION_BUS_ADDRESS points to %s, which is not a socket; the user bus is at %s", loc.path, fallback).
				Detail("The variable was probably inherited from an earlier or another session.").
				Fix(finding.ManualStep("dbus-address", fmt.Sprintf("unset DBUS_SESSION_BUS_ADDRESS or set it to unix:path=%s", fallback)))
		}
	}

	if !matters {
		return notNeeded(r, "no session bus at "+loc.path)
	}
	state, pr := dbusUserSessionState(e)
	r.Evidence = append(r.Evidence, pr.Evidence...)
	r.Details = append(r.Details, pr.Details...)

	r = r.Detail("runc, crun and podman with the systemd cgroup driver create container scopes through the user manager over this bus; without it container start fails with \"read unix @->/run/systemd/private: read: connection reset by peer\" or \"Interactive authentication required\" (docker/docs#13422, containers/podman#12983).")
	summary := fmt.Sprintf("no session bus at %s: the systemd cgroup driver cannot reach %s's user manager", loc.path, e.User.Name)
	if state == pkgMissing {
		return r.WithStatus(finding.Fail, "%s", summary).Fix(dbusPackageFixes()...)
	}
	if !e.OnBehalf {
		// Which is missing, the session or the bus? A running user manager without a bus
		// means the per-user D-Bus is not installed; no manager means no login session.
		private := path.Join(e.RuntimeDir(), "systemd/private")
		managerUp, _ := isSocket(e, private)
		if managerUp {
			r = r.With(private, "socket")
		}
		if state == pkgInstalled || !managerUp {
			return r.WithStatus(finding.Fail, "%s", summary).
				Detail("%s's user manager is not running for this shell: it has no login session of %s (typical after su or sudo).", e.User.Name, e.User.Name).
				Fix(loginSessionStep(e), systemdContainerTool())
		}
		return r.WithStatus(finding.Fail, "%s", summary).
			Detail("The user manager runs (%s) but has no bus: the per-user D-Bus is not installed.", private).
			Fix(dbusPackageFixes()...)
	}
	// On behalf of an account that is not logged in: its bus appears with its user manager.
	r = r.WithStatus(finding.Warn, "no session bus at %s now: it appears when %s's user manager starts (login, or boot with lingering)", loc.path, e.User.Name)
	if state != pkgInstalled {
		r = r.Fix(finding.InstallTool(string(distro.ToolDBusUser), "the systemd cgroup driver needs the per-user D-Bus"))
	}
	if on, err := lingering(e); err == nil && !on {
		r = r.Fix(finding.EnableLinger(e.User.Name, "starts the user manager and its bus at boot"))
	}
	return r
}

// dbusPackageFixes installs the per-user bus; a new login starts it.
func dbusPackageFixes() []finding.Intent {
	return []finding.Intent{
		finding.InstallTool(string(distro.ToolDBusUser), "the systemd cgroup driver needs the per-user D-Bus"),
		finding.AskRelogin("the user manager starts the session bus at login"),
	}
}

// findSessionBus resolves the account's session bus the way godbus and libdbus do:
// $DBUS_SESSION_BUS_ADDRESS unless it is empty or "autolaunch:", else <runtime dir>/bus.
// Checking on behalf of another account, the process environment is root's and says nothing.
func findSessionBus(e *facts.Env, r finding.Result) (busSocket, finding.Result) {
	fallback := busSocket{path: e.RuntimeDir() + "/bus"}
	if e.OnBehalf {
		return fallback, r
	}
	addr, ok := e.Getenv("DBUS_SESSION_BUS_ADDRESS")
	if !ok || addr == "" {
		return fallback, r.With("$DBUS_SESSION_BUS_ADDRESS", "(unset)")
	}
	r = r.With("$DBUS_SESSION_BUS_ADDRESS", finding.ClipLine(addr, 200))
	if strings.HasPrefix(addr, "autolaunch:") {
		return fallback, r.Detail("DBUS_SESSION_BUS_ADDRESS=%s asks clients to launch a bus of their own; the user manager's bus is looked for at %s.", finding.ClipLine(addr, 200), fallback.path)
	}
	addrs, err := parse.ParseDBusAddresses(addr)
	if err != nil {
		return fallback, r.Detail("Could not parse DBUS_SESSION_BUS_ADDRESS (%v); looking at %s.", err, fallback.path)
	}
	if us, ok := parse.FirstUnixSocket(addrs); ok {
		if us.Abstract != "" {
			return busSocket{abstract: us.Abstract, fromEnv: true}, r
		}
		return busSocket{path: us.Path, fromEnv: true}, r
	}
	if len(addrs) > 0 {
		return busSocket{other: addrs[0].Transport, fromEnv: true}, r
	}
	return fallback, r
}

// pkgState is what the package database says about a package.
type pkgState int

const (
	pkgUnknown pkgState = iota
	pkgInstalled
	pkgMissing
)

// dbusUserSessionState tells whether a per-user D-Bus is installed, where the package
// database can be read without running anything: on the Debian family, /var/lib/dpkg/status
// with dbus-user-session or dbus-broker (which also provides default-dbus-session-bus).
// Elsewhere the per-user bus ships with the dbus package almost always, and rpm's database is
// not a text file: unknown.
func dbusUserSessionState(e *facts.Env) (pkgState, finding.Result) {
	var r finding.Result
	if e.Distro.Family != distro.FamilyDebian {
		return pkgUnknown, r
	}
	for _, pkg := range []string{"dbus-user-session", "dbus-broker"} {
		installed, _, err := e.DpkgPackageStatus(pkg)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				r = r.Detail("Could not read %s: %v.", facts.DpkgStatusPath, err)
			}
			return pkgUnknown, r
		}
		if installed {
			return pkgInstalled, r.With(facts.DpkgStatusPath, pkg+": installed")
		}
	}
	return pkgMissing, r.With(facts.DpkgStatusPath, "dbus-user-session: not installed")
}
