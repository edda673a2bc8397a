package checks

import (
	"context"
	"fmt"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var sessionLinger = Probe{
	ID:    "session.linger",
	Title: "Lingering",
	Fails: "linger off or KillUserProcesses=yes (the daemon stops at logout; warn)",
	Why: "Without lingering, logind stops user@UID.service, and with it a rootless engine run as " +
		"a user service, when the account's last session ends, and does not start it at boot. " +
		"With KillUserProcesses=yes logind also kills everything left in a session at logout, such " +
		"as containers started from a shell.",
	Reads: []string{"/var/lib/systemd/linger/<name>", "logind.conf and logind.conf.d/*.conf (KillUserProcesses, KillOnlyUsers, KillExcludeUsers)"},
	Fixes: []finding.Kind{finding.Linger, finding.Manual},
	Run:   runSessionLinger,
}

// docs/failures/catalogue.json#linger-disabled (docker/for-linux#1089, containers/podman#13240,
// #12376, rootless-containers/usernetes#301).
func runSessionLinger(_ context.Context, e *facts.Env) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	name := e.User.Name
	on, err := lingering(e)
	if err != nil {
		return finding.Undecided(err, "cannot tell whether %s lingers", orNone(name))
	}
	file := lingerFile(name)
	var r finding.Result
	if on {
		r = r.With(file, "present")
	} else {
		r = r.With(file, "(absent)")
	}
	if !on && !e.SystemdRunning() {
		return r.WithStatus(finding.Skip, "systemd is not PID 1: there is no logind lingering; the engine lives as long as whatever starts it")
	}

	kill, kr := logindKill(e)
	r.Details = append(r.Details, kr.Details...)
	kills := kill.Kills(name)
	if kills {
		src := kill.Source
		if src == "" {
			src = "logind.conf"
		}
		r = r.With(src, killSetting(kill, name))
	}

	if on {
		if kills {
			return r.WithStatus(finding.Warn, "lingering is on, but logind kills %s's session processes at logout (%s)", name, killSetting(kill, name)).
				Detail("Lingering keeps user@%d.service running; processes started from a login shell (dockerd-rootless.sh &, podman run -d, and their containers) live in the session's scope and are killed at logout.", e.User.UID).
				Fix(userServiceStep(e))
		}
		return r.WithStatus(finding.Pass, "lingering is enabled for %s", name)
	}

	r = r.WithStatus(finding.Warn, "lingering is off for %s: the engine stops at logout and does not start at boot", name).
		Detail("Enable it with `loginctl enable-linger %s`: logind then starts user@%d.service at boot and keeps it, and /run/user/%d, after logout.", name, e.User.UID, e.User.UID).
		Fix(finding.EnableLinger(name, "keeps the rootless engine running after logout and starts it at boot"))
	if kills {
		r = r.Detail("logind also kills %s's session processes at logout (%s): start the engine as a user service, not from a shell.", name, killSetting(kill, name)).
			Fix(userServiceStep(e))
	}
	return r
}

// killSetting names the logind setting that makes it kill the account's processes.
func killSetting(k parse.LogindKill, name string) string {
	if len(k.KillOnlyUsers) > 0 {
		return "KillOnlyUsers includes " + name
	}
	return "KillUserProcesses=yes"
}

func userServiceStep(e *facts.Env) finding.Intent {
	return finding.ManualStep("user-service", fmt.Sprintf(
		"run the engine as a systemd user service of %s (rootless-doctor install, or systemctl --user enable --now docker) instead of from a login shell: logind kills a session's processes at logout",
		e.User.Name))
}

// logindKill reads what logind.conf and its drop-ins say about killing session processes
// at logout.
func logindKill(e *facts.Env) (parse.LogindKill, finding.Result) {
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
