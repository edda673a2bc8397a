package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

var sessionXDGRuntimeDir = Probe{
	ID:    "session.xdg-runtime-dir",
	Title: "XDG runtime directory",
	Fails: "unset, missing, not the account's, not 0700; under /tmp or too long for socket paths (warn)",
	Why: "Rootless engines keep their sockets, pid files and RootlessKit state in $XDG_RUNTIME_DIR " +
		"(the API socket is $XDG_RUNTIME_DIR/docker.sock); dockerd-rootless.sh refuses to start " +
		"without it. pam_systemd sets it to /run/user/UID, a tmpfs directory only the account can " +
		"enter, at login; su, sudo, cron and system units open no such session.",
	Reads: []string{"$XDG_RUNTIME_DIR (when checking the running account)", "/run/user/UID (owner, mode)"},
	Fixes: []finding.Kind{finding.Manual, finding.Package, finding.Linger},
	Run:   runSessionXDGRuntimeDir,
}

func runSessionXDGRuntimeDir(_ context.Context, e *facts.Env) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	std := fmt.Sprintf("/run/user/%d", e.User.UID)
	if e.OnBehalf {
		return runtimeDirOnBehalf(e, std)
	}

	v, ok := e.Getenv("XDG_RUNTIME_DIR")
	if !ok || v == "" {
		return xdgRuntimeDirUnset(e, std)
	}
	r := finding.Result{}.With("$XDG_RUNTIME_DIR", v)
	if !path.IsAbs(v) {
		return r.WithStatus(finding.Fail, "XDG_RUNTIME_DIR=%s is not an absolute path", v).
			Detail("The XDG Base Directory specification requires an absolute path; relative values are ignored by some tools and resolved against the working directory by others.").
			Fix(runtimeDirStep(e, std))
	}
	fi, err := e.Host.Stat(v)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return r.WithStatus(finding.Fail, "XDG_RUNTIME_DIR=%s does not exist", v).
			Detail("It was probably inherited from another session, or the session that created it has ended (logind removes /run/user/UID at the last logout unless the account lingers).").
			Fix(runtimeDirStep(e, std))
	case err != nil:
		return finding.Undecided(err, "cannot stat XDG_RUNTIME_DIR=%s", v)
	}
	return judgeRuntimeDir(e, r, "XDG_RUNTIME_DIR="+v, v, fi, std)
}

// xdgRuntimeDirUnset is the finding of failure-catalogue entry xdg-runtime-dir-unset
// (moby/moby#39009, docker/docker-install#208).
func xdgRuntimeDirUnset(e *facts.Env, std string) finding.Result {
	r := finding.Result{}.With("$XDG_RUNTIME_DIR", "(unset)")
	r = r.WithStatus(finding.Fail, "XDG_RUNTIME_DIR is not set: dockerd-rootless.sh and RootlessKit need it").
		Detail("dockerd-rootless.sh stops with \"could not get XDG_RUNTIME_DIR\"; podman falls back to /tmp, which systemd-tmpfiles cleans.").
		Detail("pam_systemd sets it when a login session opens (console, ssh, graphical login); su, sudo -u, cron jobs and system units open none.")
	stdExists := false
	if fi, err := e.Host.Stat(std); err == nil && fi.IsDir() {
		stdExists = true
		r = r.With(std, fmt.Sprintf("owner=%d mode=%04o", fi.UID, fi.Mode.Perm()))
	}
	if e.SystemdRunning() {
		r = r.Detail("After su or sudo -u, switch with `machinectl shell %s@` (package systemd-container) or `ssh %s@localhost`; `sudo -iu %s` opens a session only where sudo's PAM stack runs pam_systemd.", e.User.Name, e.User.Name, e.User.Name)
		if stdExists {
			r = r.Detail("%s exists (another session of %s, or lingering): `export XDG_RUNTIME_DIR=%s` also works in this shell.", std, e.User.Name, std)
		}
		return r.Fix(loginSessionStep(e), systemdContainerTool())
	}
	if stdExists {
		r = r.Detail("%s exists: `export XDG_RUNTIME_DIR=%s` in %s's shell profile.", std, std, e.User.Name)
	} else {
		r = r.Detail("Without systemd nothing creates one: export XDG_RUNTIME_DIR to a directory %s owns with mode 0700 that is not under /tmp, such as ~/.docker/run (Docker's advice for non-systemd hosts).", e.User.Name)
	}
	return r.Fix(runtimeDirStep(e, std))
}

// runtimeDirOnBehalf checks /run/user/UID for an account that is not the one running the
// doctor: root with --user in an image build has no session of that account, so only the
// directory pam_systemd would use can be judged, and its absence is no failure.
func runtimeDirOnBehalf(e *facts.Env, std string) finding.Result {
	fi, err := e.Host.Stat(std)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r := finding.Result{}.With(std, "(absent)")
		r = r.WithStatus(finding.Warn, "%s does not exist yet: it is created when %s logs in", std, e.User.Name).
			Detail("pam_systemd (systemd-logind) creates /run/user/UID at login and removes it at the last logout; with lingering it exists from boot. An image build has no sessions, so this is expected there.").
			Detail("An engine started from a system unit with User=%s needs Environment=XDG_RUNTIME_DIR=%s and lingering.", e.User.Name, std)
		if e.SystemdRunning() {
			return r.Fix(finding.EnableLinger(e.User.Name, "logind then creates "+std+" at boot"))
		}
		return r.Detail("Without systemd no login manager creates it: %s's sessions must export XDG_RUNTIME_DIR to a directory it owns with mode 0700, not under /tmp (such as ~/.docker/run).", e.User.Name).
			Fix(runtimeDirStep(e, std))
	case err != nil:
		return finding.Undecided(err, "cannot stat %s", std)
	}
	return judgeRuntimeDir(e, finding.Result{}, std, std, fi, std)
}

// judgeRuntimeDir checks what the XDG Base Directory specification requires of the runtime
// directory (owned by the user, mode 0700) and that it is not under /tmp or /var/tmp: there
// systemd-tmpfiles ages files out after 10 days (podman's pause.pid and sockets vanish,
// containers/podman#7852, #11539), the state survives reboots, and other users can create
// predictable names first (Docker: "should not be under /tmp … vulnerable to TOCTOU attack").
// docs/failures/catalogue.json#runtime-dir-on-tmp-cleaned.
func judgeRuntimeDir(e *facts.Env, r finding.Result, label, dir string, fi host.FileInfo, std string) finding.Result {
	resolved := dir
	if p, err := e.Host.EvalSymlinks(dir); err == nil {
		resolved = p
	}
	r = r.With(dir, fmt.Sprintf("owner=%d mode=%04o", fi.UID, fi.Mode.Perm()))
	if resolved != path.Clean(dir) {
		r = r.With(dir, "resolves to "+resolved)
	}
	// Failures stop the engines (podman refuses a runtime directory it does not own,
	// containers/common#422); warnings are what works until it does not: a directory
	// systemd-tmpfiles ages out, a path too long for the sockets under it.
	var problems, warnings []string
	if !fi.IsDir() {
		problems = append(problems, fmt.Sprintf("%s is not a directory", label))
	} else {
		if fi.UID != e.User.UID {
			problems = append(problems, fmt.Sprintf("%s is owned by uid %d, not by %s (uid %d)", label, fi.UID, e.User.Name, e.User.UID))
		}
		if fi.Mode.Perm() != 0o700 {
			problems = append(problems, fmt.Sprintf("%s has mode %04o, not 0700", label, fi.Mode.Perm()))
		}
	}
	tmp := underTmp(dir) || underTmp(resolved)
	if tmp {
		warnings = append(warnings, fmt.Sprintf("%s is under /tmp or /var/tmp, which systemd-tmpfiles cleans", label))
	}
	long := len(dir) > maxRuntimeDirLen
	if long {
		warnings = append(warnings, fmt.Sprintf("%s is %d bytes long: socket paths under it pass the 108-byte limit of a unix socket", label, len(dir)))
	}
	if len(problems)+len(warnings) == 0 {
		return r.WithStatus(finding.Pass, "%s (owned by %s, mode 0700)", label, e.User.Name)
	}
	status := finding.Warn
	if len(problems) > 0 {
		status = finding.Fail
	}
	all := append(problems, warnings...)
	r = r.WithStatus(status, "%s", all[0])
	for _, p := range all[1:] {
		r = r.Detail("Also: %s.", p)
	}
	if tmp {
		// docs/failures/catalogue.json#runtime-dir-on-tmp-cleaned
		r = r.Detail("Under /tmp, systemd-tmpfiles removes files older than 10 days: podman's pause.pid and the engines' sockets vanish (\"cannot join pause process\", containers/podman#7852, #11539), the state survives reboots, and other users can create the predictable names first (moby/moby#41098).").
			Detail("If it must stay there, exclude it from cleaning with an `x` line in /etc/tmpfiles.d (tmpfiles.d(5)), for example `x /tmp/run-*`.")
	}
	if long {
		// docs/failures/catalogue.json#runtime-path-too-long
		r = r.Detail("Podman publishes ports through $XDG_RUNTIME_DIR/libpod/tmp/rootlessportNNNNNNNNN/.bp.sock, %d bytes more: past %d bytes of runtime directory the socket cannot be made (\"rootlessport dial unix …/.bp.sock: connect: invalid argument\", containers/podman#9486). Podman before 3.0 failed already past %d bytes, on its attach sockets (containers/podman#9264).", rootlessportSuffix, maxRuntimeDirLen, 107-attachSuffix)
	}
	if fi.IsDir() && fi.UID != e.User.UID {
		r = r.Detail("A runtime directory owned by someone else is usually inherited from the account that ran su or sudo.")
	}
	return r.Fix(runtimeDirStep(e, std))
}

// The longest socket paths engines make under the runtime directory: Podman's rootlessport
// socket ("/libpod/tmp/rootlessport" + 9 digits + "/.bp.sock") and, before Podman 3.0 opened
// them through /proc/self/fd (containers/podman#8933), its attach sockets ("/libpod/tmp/socket/"
// + a 64-character container id + "/attach"). A sockaddr_un holds 107 bytes of path and a NUL
// (unix(7)).
const (
	rootlessportSuffix = len("/libpod/tmp/rootlessport") + 9 + len("/.bp.sock")
	attachSuffix       = len("/libpod/tmp/socket/") + 64 + len("/attach")
	maxRuntimeDirLen   = 107 - rootlessportSuffix
)

// runtimeDirStep is the manual fix for a bad runtime directory.
func runtimeDirStep(e *facts.Env, std string) finding.Intent {
	if e.SystemdRunning() {
		return finding.ManualStep("xdg-runtime-dir", fmt.Sprintf(
			"use the runtime directory logind makes: XDG_RUNTIME_DIR=%s, owned by %s with mode 0700 (it exists while %s is logged in, or always with `loginctl enable-linger %s`)",
			std, e.User.Name, e.User.Name, e.User.Name))
	}
	return finding.ManualStep("xdg-runtime-dir", fmt.Sprintf(
		"export XDG_RUNTIME_DIR in %s's shell profile to a directory it owns with mode 0700 outside /tmp (for example ~/.docker/run)",
		e.User.Name))
}

func underTmp(p string) bool {
	p = path.Clean(p)
	for _, t := range []string{"/tmp", "/var/tmp"} {
		if p == t || strings.HasPrefix(p, t+"/") {
			return true
		}
	}
	return false
}
