package checks

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

// Facts the session and cgroup probes share.

// loginSessionStep is the one way to get a real login session of the account (with
// XDG_RUNTIME_DIR, the user manager and its bus) from a shell reached through su or sudo,
// which opens none (failure catalogue: no-pam-systemd-session; docker/docs#14491,
// containerd/nerdctl#686). session.xdg-runtime-dir and session.systemd ask for the same step.
func loginSessionStep(e *Env) finding.Intent {
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
func lingering(e *Env) (bool, error) {
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
func dbusUserSessionState(e *Env) (pkgState, finding.Result) {
	var r finding.Result
	if e.Distro.Family != distro.FamilyDebian {
		return pkgUnknown, r
	}
	data, err := e.dpkgStatus()
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			r = r.Detail("Could not read %s: %v.", dpkgStatusPath, err)
		}
		return pkgUnknown, r
	}
	for _, pkg := range []string{"dbus-user-session", "dbus-broker"} {
		if installed, _ := parse.DpkgPackageStatus(data, pkg); installed {
			return pkgInstalled, r.With(dpkgStatusPath, pkg+": installed")
		}
	}
	return pkgMissing, r.With(dpkgStatusPath, "dbus-user-session: not installed")
}

// dpkgStatusPath is dpkg's database of installed packages (Debian family).
const dpkgStatusPath = "/var/lib/dpkg/status"

// dpkgStatus reads dpkg's database once per run: it is large (hundreds of KiB on a desktop)
// and more than one probe asks it.
func (e *Env) dpkgStatus() ([]byte, error) {
	type read struct {
		data []byte
		err  error
	}
	r := Memo(e, "dpkg-status", func() read {
		data, err := e.Host.ReadFile(dpkgStatusPath)
		return read{data, err}
	})
	return r.data, r.err
}

// wsl reports whether the host is Windows Subsystem for Linux, with the evidence: its
// kernels say "microsoft" in the release ("5.15.153.1-microsoft-standard-WSL2") and in
// /proc/version (WSL1: "4.4.0-19041-Microsoft").
func wsl(e *Env) (bool, finding.Evidence) {
	if rel := e.Host.KernelRelease(); strings.Contains(strings.ToLower(rel), "microsoft") {
		return true, finding.Evidence{Source: "uname -r", Value: rel}
	}
	data, err := e.Host.ReadFile("/proc/version")
	if err == nil && strings.Contains(strings.ToLower(string(data)), "microsoft") {
		return true, finding.Evidence{Source: "/proc/version", Value: clipLine(strings.TrimSpace(string(data)))}
	}
	return false, finding.Evidence{}
}

// wslSystemdConfigured reports whether /etc/wsl.conf asks for systemd ([boot] systemd=true,
// WSL 0.67.6 and later).
func wslSystemdConfigured(e *Env) bool {
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

// systemdConfFiles lists the files of a systemd configuration in the order systemd applies
// them: the main file (the first of mains that exists; mains are highest priority first),
// then the *.conf drop-ins of dropinDirs sorted by file name, where a name in a
// higher-priority directory hides the same name in a lower one (systemd.unit(5),
// systemd-logind.conf(5) "Configuration Directories and Precedence"). dropinDirs are highest
// priority first. found is false when no main file exists.
func systemdConfFiles(e *Env, mains, dropinDirs []string) (files []string, found bool) {
	for _, m := range mains {
		if fi, err := e.Host.Stat(m); err == nil && !fi.IsDir() {
			files, found = append(files, m), true
			break
		}
	}
	byName := map[string]string{}
	for i := len(dropinDirs) - 1; i >= 0; i-- {
		ents, err := e.Host.ReadDir(dropinDirs[i])
		if err != nil {
			continue
		}
		for _, ent := range ents {
			if strings.HasSuffix(ent.Name(), ".conf") && !ent.IsDir() {
				byName[ent.Name()] = dropinDirs[i] + "/" + ent.Name()
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		files = append(files, byName[n])
	}
	return files, found
}

// logindKill reads what logind.conf and its drop-ins say about killing session processes
// at logout.
func logindKill(e *Env) (parse.LogindKill, finding.Result) {
	var k parse.LogindKill
	var r finding.Result
	files, _ := systemdConfFiles(e,
		[]string{"/etc/systemd/logind.conf", "/run/systemd/logind.conf", "/usr/local/lib/systemd/logind.conf", "/usr/lib/systemd/logind.conf"},
		[]string{"/etc/systemd/logind.conf.d", "/run/systemd/logind.conf.d", "/usr/local/lib/systemd/logind.conf.d", "/usr/lib/systemd/logind.conf.d"})
	for _, f := range files {
		data, err := e.Host.ReadFile(f)
		if err != nil {
			r = r.Detail("Could not read %s: %v.", f, err)
			continue
		}
		k.Apply(f, data)
	}
	for _, p := range k.Problems {
		r = r.Detail("%s.", p)
	}
	return k, r
}

// isSocket reports whether p exists and is a socket; a missing path is (false, nil).
func isSocket(e *Env, p string) (bool, error) {
	fi, err := e.Host.Stat(p)
	switch {
	case err == nil:
		return fi.Mode&fs.ModeSocket != 0, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, err
}
