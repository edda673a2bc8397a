package checks

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var sessionSystemd = Probe{
	ID:    "session.systemd",
	Title: "systemd user manager",
	Fails: "systemd runs but the account has no user manager (after `su`/`sudo`); WSL without systemd (warn)",
	Why: "`systemctl --user`, the systemd cgroup driver and `rootless-doctor install` talk to the " +
		"account's systemd user manager (user@UID.service). It runs while the account has a login " +
		"session, or always with lingering; a shell reached with su or sudo has none, and setup " +
		"tools then wrongly report \"systemd not detected\".",
	Reads: []string{"/run/systemd/system", "/proc/1/comm", "<runtime dir>/systemd/private", "/proc/version and /etc/wsl.conf (WSL)"},
	Fixes: []finding.Kind{finding.Manual, finding.Package, finding.Linger},
	Run:   runSessionSystemd,
}

func runSessionSystemd(_ context.Context, e *facts.Env) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	var r finding.Result
	if data, err := e.Host.ReadFile("/proc/1/comm"); err == nil {
		r = r.With("/proc/1/comm", strings.TrimSpace(finding.ClipLine(string(data), 200)))
	}
	if !e.SystemdRunning() {
		return systemdNotPID1(e, r.With("/run/systemd/system", "(absent)"))
	}
	r = r.With("/run/systemd/system", "directory")

	std := fmt.Sprintf("/run/user/%d", e.User.UID)
	dir := e.RuntimeDir()
	private := path.Join(dir, "systemd/private")
	ok, err := isSocket(e, private)
	if err != nil {
		return finding.Undecided(err, "cannot stat %s", private)
	}
	if ok {
		r = r.With(private, "socket").WithStatus(finding.Pass, "the systemd user manager of %s is running (%s)", e.User.Name, private)
		if v, set := e.Getenv("XDG_RUNTIME_DIR"); !e.OnBehalf && (!set || v == "") {
			r = r.Detail("XDG_RUNTIME_DIR is not set in this shell, so `systemctl --user` cannot find it from here (see session.xdg-runtime-dir).")
		}
		return r
	}
	r = r.With(private, "(absent)")

	if e.OnBehalf {
		r = r.WithStatus(finding.Warn, "%s has no running systemd user manager now: it starts at login, or at boot with lingering", e.User.Name).
			Detail("`rootless-doctor install` and `systemctl --user` need it. From root, reach it with `systemctl --user --machine=%s@ …` once it runs.", e.User.Name)
		if on, err := lingering(e); err == nil && !on {
			r = r.Fix(finding.EnableLinger(e.User.Name, "starts user@.service at boot, without a login"))
		}
		return r
	}

	if dir != std {
		if ok, _ := isSocket(e, path.Join(std, "systemd/private")); ok {
			return r.With(path.Join(std, "systemd/private"), "socket").WithStatus(finding.Fail,
				"XDG_RUNTIME_DIR=%s hides the running user manager of %s at %s", dir, e.User.Name, std).
				Detail("systemctl --user looks for the manager under $XDG_RUNTIME_DIR; this value was probably inherited from another account or session.").
				Fix(runtimeDirStep(e, std))
		}
	}
	// docs/failures/catalogue.json#no-pam-systemd-session (docker/docs#14491, docker/docker-install#326,
	// k3s-io/k3s#10127).
	return r.WithStatus(finding.Fail, "the systemd user manager of %s is not reachable: no %s", e.User.Name, private).
		Detail("This shell has no login session of %s: typical after `sudo su`, `su -` or `sudo -u`, which do not start user@%d.service. systemctl --user then fails with \"Failed to connect to bus\", and setup tools report \"systemd not detected\".", e.User.Name, e.User.UID).
		Detail("Log in with `machinectl shell %s@` (package systemd-container) or `ssh %s@localhost`. For automation: `loginctl enable-linger %s`, then `systemctl --user --machine=%s@ …` or `systemd-run --machine=%s@ --user …`.", e.User.Name, e.User.Name, e.User.Name, e.User.Name, e.User.Name).
		Fix(loginSessionStep(e), systemdContainerTool())
}

// systemdNotPID1 is the skip of a host without systemd, with WSL's switch where it applies
// (docs/failures/catalogue.json#systemd-not-pid1-wsl; containerd/nerdctl#366, #2696).
func systemdNotPID1(e *facts.Env, r finding.Result) finding.Result {
	r = r.WithStatus(finding.Skip, "systemd is not PID 1: engines run without a user manager; `install` is not available").
		Detail("Start the engine directly (`rootless-doctor daemon`, dockerd-rootless.sh) or from the init system's own service manager; engines use the cgroupfs cgroup driver.")
	isWSL, ev := wsl(e)
	if !isWSL {
		return r
	}
	r = r.With(ev.Source, ev.Value)
	if !strings.Contains(strings.ToLower(e.Host.KernelRelease()), "microsoft-standard") {
		// WSL 1 ("4.4.0-19041-Microsoft") has no systemd to turn on, and no containers.
		return r.Detail("This looks like WSL 1, which cannot run systemd (nor rootless containers): convert the distribution to WSL 2 with `wsl --set-version <distribution> 2` from Windows.")
	}
	// On WSL 2 the missing user manager is one switch away, and without it the setup tools stop
	// ("[ERROR] Needs systemd (systemctl --user)", containerd/nerdctl#366) or fall back to a
	// daemon started by hand: a warning, where another init is a choice (a skip).
	summary := "WSL runs without systemd: no user manager, so the setup tools and `install` cannot make the engine a service"
	if wslSystemdConfigured(e) {
		return r.With("/etc/wsl.conf", "[boot] systemd=true").
			WithStatus(finding.Warn, "%s", summary).
			Detail("/etc/wsl.conf already asks for systemd: restart the distribution with `wsl --shutdown` from Windows.").
			Fix(finding.ManualStep("wsl-restart", "restart the WSL distribution so that /etc/wsl.conf takes effect: run `wsl --shutdown` in Windows, then open it again"))
	}
	return r.WithStatus(finding.Warn, "%s", summary).
		Detail("systemd becomes PID 1 with `[boot]` `systemd=true` in /etc/wsl.conf, then `wsl --shutdown` from Windows (WSL 0.67.6 or later).").
		Fix(finding.ManualStep("wsl-systemd", "turn systemd on in WSL: add the lines `[boot]` and `systemd=true` to /etc/wsl.conf, then run `wsl --shutdown` in Windows and open the distribution again (WSL 0.67.6 or later)"))
}

// wsl reports whether the host is Windows Subsystem for Linux, with the evidence: its
// kernels say "microsoft" in the release ("5.15.153.1-microsoft-standard-WSL2") and in
// /proc/version (WSL1: "4.4.0-19041-Microsoft").
func wsl(e *facts.Env) (bool, finding.Evidence) {
	if rel := e.Host.KernelRelease(); strings.Contains(strings.ToLower(rel), "microsoft") {
		return true, finding.Evidence{Source: "uname -r", Value: rel}
	}
	data, err := e.Host.ReadFile("/proc/version")
	if err == nil && strings.Contains(strings.ToLower(string(data)), "microsoft") {
		return true, finding.Evidence{Source: "/proc/version", Value: finding.ClipLine(strings.TrimSpace(string(data)), 200)}
	}
	return false, finding.Evidence{}
}

// wslSystemdConfigured reports whether /etc/wsl.conf asks for systemd ([boot] systemd=true,
// WSL 0.67.6 and later).
func wslSystemdConfigured(e *facts.Env) bool {
	data, err := e.Host.ReadFile("/etc/wsl.conf")
	if err != nil {
		return false
	}
	opts, _ := parse.ParseConf(data)
	on := false
	for _, o := range opts {
		if strings.EqualFold(o.Section, "boot") && strings.EqualFold(o.Name, "systemd") {
			if b, err := parse.ParseSystemdBool(o.Value); err == nil {
				on = b
			}
		}
	}
	return on
}
