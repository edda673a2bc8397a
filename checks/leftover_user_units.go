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
)

var leftoverUserUnits = Probe{
	ID:    "leftover.user-units",
	Title: "Engines' user units",
	Fails: "docker.service, containerd.service or buildkit.service of the account starts a program that is gone, or a unit PATH without rootlesskit and the daemon",
	Why: "The setup tools write ~/.config/systemd/user/docker.service (dockerd-rootless-setuptool.sh), " +
		"containerd.service and buildkit.service (containerd-rootless-setuptool.sh) with the absolute " +
		"path of the script and the PATH it found. When rootless Docker installed into ~/bin is removed, " +
		"moved or reinstalled from packages, the unit still names the old path: the service fails with " +
		"`status=203/EXEC`, or with 127 when the script cannot find rootlesskit or dockerd on the " +
		"unit's PATH (mikeizbicki/cmc-csci143#7, konstruktoid/ansible-role-docker-rootless#661; " +
		"docs/failures/catalogue.json#stale-user-unit-execstart).",
	Reads: []string{"~/.config/systemd/user/{docker,containerd,buildkit}.service and their .d/*.conf drop-ins (ExecStart=, Environment=PATH)",
		"the ExecStart executable", "rootlesskit, dockerd and containerd in the unit's PATH"},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runLeftoverUserUnits,
}

// engineUnits are the user units the engines' setup tools write, with the setup tool that
// rewrites each and the programs its script looks up on PATH (dockerd-rootless.sh and
// containerd-rootless.sh both exec rootlesskit, then their daemon).
var engineUnits = []struct {
	name, setup string
	needs       []string
}{
	{"docker.service", "dockerd-rootless-setuptool.sh install", []string{"rootlesskit", "dockerd"}},
	{"containerd.service", "containerd-rootless-setuptool.sh install", []string{"rootlesskit", "containerd"}},
	{"buildkit.service", "containerd-rootless-setuptool.sh install-buildkit", nil},
}

func runLeftoverUserUnits(_ context.Context, e *facts.Env) finding.Result {
	if skip, ok := e.NeedUser(); !ok {
		return skip
	}
	r := finding.Result{}
	var seen []string
	var problems []string
	var intents []finding.Intent
	for _, eu := range engineUnits {
		u := e.UserUnit(eu.name)
		if u.Main == "" || len(u.ExecStart) == 0 {
			continue
		}
		seen = append(seen, eu.name)
		exe := u.ExecStart[0]
		r = r.With(u.ExecStartFrom, "ExecStart="+finding.ClipLine(strings.Join(u.ExecStart, " "), 160))
		problem := ""
		if path.IsAbs(exe) {
			fi, err := e.Host.Stat(exe)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				problem = fmt.Sprintf("%s starts %s, which does not exist: `status=203/EXEC`", eu.name, exe)
			case err == nil && (fi.IsDir() || fi.Mode.Perm()&0o111 == 0):
				problem = fmt.Sprintf("%s starts %s, which is not an executable file: `status=203/EXEC`", eu.name, exe)
			}
		}
		if p, ok := u.Env["PATH"]; ok && problem == "" {
			var missing []string
			for _, n := range eu.needs {
				if !inPath(e, p, n) {
					missing = append(missing, n)
				}
			}
			if len(missing) > 0 {
				r = r.With(u.EnvFrom["PATH"], "PATH="+finding.ClipLine(p, 160))
				problem = fmt.Sprintf("%s sets PATH=%s, where %s cannot be found: the script exits with status 127", eu.name, finding.ClipLine(p, 120), strings.Join(missing, " and "))
			}
		}
		if problem != "" {
			problems = append(problems, problem)
			intents = append(intents, finding.ManualStep("unit-"+strings.TrimSuffix(eu.name, ".service"),
				fmt.Sprintf("as %s: run %s from the installation you use now (it rewrites %s), or correct ExecStart=/Environment=PATH there; then systemctl --user daemon-reload && systemctl --user restart %s", e.User.Name, eu.setup, homeRel(e, u.Main), eu.name)))
		}
	}
	if len(seen) == 0 {
		return finding.Passf("%s has no docker, containerd or buildkit user unit", e.User.Name)
	}
	if len(problems) == 0 {
		return r.WithStatus(finding.Pass, "%s start programs that exist", strings.Join(seen, ", "))
	}
	r = r.WithStatus(finding.Fail, "%s", problems[0])
	for _, p := range problems[1:] {
		r = r.Detail("Also: %s.", p)
	}
	return r.Detail("systemd --user starts the unit's ExecStart= as written; a rootless engine installed elsewhere since (packages instead of ~/bin, or removed) leaves the unit pointing at the old path (mikeizbicki/cmc-csci143#7).").Fix(intents...)
}

// inPath reports whether an executable file name is in one of the directories of a PATH value.
func inPath(e *facts.Env, pathList, name string) bool {
	for _, d := range strings.Split(pathList, ":") {
		if !path.IsAbs(d) {
			continue
		}
		if fi, err := e.Host.Stat(path.Join(d, name)); err == nil && !fi.IsDir() && fi.Mode.Perm()&0o111 != 0 {
			return true
		}
	}
	return false
}
