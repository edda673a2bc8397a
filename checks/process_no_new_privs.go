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

var processNoNewPrivs = Probe{
	ID:    "process.no-new-privs",
	Title: "no_new_privs",
	Fails: "this process, or a user unit or quadlet that starts an engine, runs with no_new_privs",
	Why: "With the no_new_privs bit set, execve ignores setuid bits and file capabilities " +
		"(https://docs.kernel.org/userspace-api/no_new_privs.html), so newuidmap and newgidmap " +
		"run without the privilege they need and the engine cannot map its subordinate ids: " +
		"\"newuidmap: write to uid_map failed: Operation not permitted\" or \"Could not set caps\". " +
		"The bit is inherited and cannot be cleared: a Kubernetes container with " +
		"allowPrivilegeEscalation: false, docker run --security-opt no-new-privileges, and systemd " +
		"units with NoNewPrivileges=yes — or, in a user manager, any setting that installs a seccomp " +
		"filter (SystemCallFilter=, RestrictNamespaces=, ProtectKernelTunables=, …) — set it for " +
		"everything they start (podman-container-tools/podman#21738, moby/buildkit#1671; " +
		"docs/failures/catalogue.json#no-new-privs-blocks-newuidmap).",
	Reads: []string{
		"/proc/self/status (NoNewPrivs; when checking the running account)",
		"the account's user units that start an engine (docker.service, containerd.service, buildkit.service, podman.service, and every *.service whose ExecStart= runs one) in ~/.config/systemd/user, /etc/systemd/user and /usr/lib/systemd/user, with their drop-ins",
		"Podman quadlets in ~/.config/containers/systemd and /etc/containers/systemd/users ([Service])",
		"user@.service and its drop-ins",
	},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runProcessNoNewPrivs,
}

// nnpEngineUnits are the user units the engines' setup tools write or ship
// (dockerd-rootless-setuptool.sh, containerd-rootless-setuptool.sh, Podman's podman.service).
var nnpEngineUnits = []string{"docker.service", "containerd.service", "buildkit.service", "podman.service"}

// engineCommands are the programs whose start in ExecStart= makes a unit an engine's.
var engineCommands = []string{"dockerd-rootless.sh", "dockerd", "containerd-rootless.sh", "containerd",
	"buildkitd", "rootlesskit", "podman", "nerdctl", "buildah", "rootless-doctor"}

// quadletSuffixes are the Podman quadlet files whose [Service] section goes into the unit
// quadlet generates (podman-systemd.unit(5)).
var quadletSuffixes = []string{".container", ".pod", ".kube", ".build", ".image", ".volume", ".network"}

// maxUnitFiles bounds how many units and quadlets one run reads.
const maxUnitFiles = 256

// nnpUnit is a unit or quadlet whose processes get no_new_privs.
type nnpUnit struct {
	name   string
	files  []string
	causes []string
}

func runProcessNoNewPrivs(_ context.Context, e *facts.Env) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	var r finding.Result
	procNNP, procKnown := false, false
	if !e.OnBehalf {
		st, err := e.ProcStatus()
		switch {
		case err == nil && st["NoNewPrivs"] != "":
			procKnown = true
			procNNP = st["NoNewPrivs"] == "1"
			r = r.With(facts.ProcStatusPath, "NoNewPrivs: "+finding.Clip(st["NoNewPrivs"], 20))
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			r = r.Detail("Could not read %s: %v.", facts.ProcStatusPath, err)
		}
	}

	units, problems := nnpUnits(e)
	for _, p := range problems {
		r = r.Detail("%s", p)
	}
	for _, u := range units {
		r = r.With(u.files[0], strings.Join(u.causes, " "))
	}

	if !procNNP && len(units) == 0 {
		switch {
		case procKnown:
			return r.WithStatus(finding.Pass, "this process runs without no_new_privs, and no user unit or quadlet that starts an engine sets it")
		case e.OnBehalf:
			return r.WithStatus(finding.Pass, "no user unit or quadlet of %s that starts an engine sets no_new_privs", e.User.Name)
		}
		return r.WithStatus(finding.Pass, "no user unit or quadlet that starts an engine sets no_new_privs (this process's own bit could not be read)")
	}

	var summaries []string
	if procNNP {
		summaries = append(summaries, "this process runs with no_new_privs: an engine started from here cannot use newuidmap's setuid bit or file capabilities")
		r = r.Detail("The bit is inherited from whatever started this shell and cannot be cleared: a container or Kubernetes pod with allowPrivilegeEscalation: false or --security-opt no-new-privileges, or a systemd unit with NoNewPrivileges=yes.").
			Fix(finding.ManualStep("no-new-privs", "start the engine from a process without no_new_privs: in Kubernetes set allowPrivilegeEscalation: true for this container, run docker without --security-opt no-new-privileges, or use a systemd unit without NoNewPrivileges= and the settings that imply it"))
	}
	if len(units) > 0 {
		var names, lines []string
		for _, u := range units {
			names = append(names, u.name)
			lines = append(lines, fmt.Sprintf("%s (%s in %s)", u.name, strings.Join(u.causes, ", "), strings.Join(u.files, ", ")))
		}
		summaries = append(summaries, fmt.Sprintf("%s %s no_new_privs: the engine it starts cannot use newuidmap's privilege", netJoinAnd(names), setSets(len(names))))
		r = r.Detail("In a user manager NoNewPrivileges=yes, and every setting that installs a seccomp filter, sets no_new_privs for the unit's processes (systemd.exec(5)); \"NoNewPrivileges=no\" does not undo the implied ones.").
			Fix(finding.ManualStep("no-new-privs-unit", fmt.Sprintf(
				"remove NoNewPrivileges=yes and the settings that imply it from %s, then run systemctl --user daemon-reload and restart the unit as %s",
				strings.Join(lines, "; "), e.User.Name)))
	}
	r = r.WithStatus(finding.Fail, "%s", summaries[0])
	for _, s := range summaries[1:] {
		r = r.Detail("Also: %s.", s)
	}
	return r.Detail("newuidmap then stops with \"write to uid_map failed: Operation not permitted\" or \"Could not set caps\", and Podman suggests `podman system migrate`, which does not help (podman-container-tools/podman#21738).")
}

func setSets(n int) string {
	if n == 1 {
		return "sets"
	}
	return "set"
}

// nnpUnits finds the account's engine units and quadlets that set no_new_privs.
func nnpUnits(e *facts.Env) ([]nnpUnit, []string) {
	var out []nnpUnit
	var problems []string
	home := e.User.Home
	userDirs := []string{}
	if home != "" && home != "/" {
		userDirs = append(userDirs, path.Join(home, ".config/systemd/user"))
	}
	userDirs = append(userDirs, "/etc/systemd/user", "/usr/lib/systemd/user")

	// The user manager itself: what it has, everything it starts inherits.
	var mains, dropins []string
	for _, dir := range unitSearchPath {
		mains = append(mains, dir+"/user@.service")
		dropins = append(dropins, fmt.Sprintf("%s/user@%d.service.d", dir, e.User.UID), dir+"/user@.service.d")
	}
	if u, ok := nnpOf(e, "user@.service", mains, dropins, &problems); ok {
		out = append(out, u)
	}

	// Candidate user units: the engines' own names, and every unit or drop-in directory in
	// the directories an account or its administrator writes.
	cands := slices.Clone(nnpEngineUnits)
	for _, dir := range userDirs[:len(userDirs)-1] {
		ents, err := e.Host.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, ent := range ents {
			name := strings.TrimSuffix(ent.Name(), ".d")
			if strings.HasSuffix(name, ".service") && !strings.Contains(name, "@") && !slices.Contains(cands, name) && len(cands) < maxUnitFiles {
				cands = append(cands, name)
			}
		}
	}
	for _, name := range cands {
		var mains, dropins []string
		for _, d := range userDirs {
			mains = append(mains, d+"/"+name)
			dropins = append(dropins, d+"/"+name+".d")
		}
		if !slices.Contains(nnpEngineUnits, name) && !startsEngine(e, mains) {
			continue
		}
		if u, ok := nnpOf(e, name, mains, dropins, &problems); ok {
			out = append(out, u)
		}
	}

	// Quadlets (podman-systemd.unit(5), "Podman rootless unit search path").
	qdirs := []string{"/etc/containers/systemd/users", fmt.Sprintf("/etc/containers/systemd/users/%d", e.User.UID)}
	if home != "" && home != "/" {
		qdirs = append([]string{path.Join(home, ".config/containers/systemd")}, qdirs...)
	}
	n := 0
	for _, dir := range qdirs {
		ents, err := e.Host.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, ent := range ents {
			if ent.IsDir() || !slices.ContainsFunc(quadletSuffixes, func(s string) bool { return strings.HasSuffix(ent.Name(), s) }) {
				continue
			}
			if n++; n > maxUnitFiles {
				break
			}
			p := dir + "/" + ent.Name()
			if u, ok := nnpOf(e, ent.Name(), []string{p}, []string{p + ".d"}, &problems); ok {
				out = append(out, u)
			}
		}
	}
	return out, problems
}

// startsEngine reports whether the first unit file of mains that exists starts an engine.
func startsEngine(e *facts.Env, mains []string) bool {
	for _, m := range mains {
		data, err := e.Host.ReadFile(m)
		if err != nil {
			continue
		}
		opts, _ := parse.ParseConf(data)
		for _, v := range parse.ConfValues(opts, "Service", "ExecStart") {
			f := strings.Fields(strings.TrimLeft(v, "@-:+!"))
			if len(f) > 0 && slices.Contains(engineCommands, path.Base(f[0])) {
				return true
			}
			// A wrapper shell: "/bin/sh -c 'exec podman …'".
			for _, c := range engineCommands {
				if strings.Contains(v, "/"+c+" ") || strings.Contains(v, " "+c+" ") {
					return true
				}
			}
		}
		return false
	}
	return false
}

// nnpOf reads a unit (its first main file that exists, then its drop-ins) and returns it when
// it sets no_new_privs.
func nnpOf(e *facts.Env, name string, mains, dropins []string, problems *[]string) (nnpUnit, bool) {
	files, found := systemdConfFiles(e, mains, dropins)
	if !found && len(files) == 0 {
		return nnpUnit{}, false
	}
	var n parse.NoNewPrivs
	var read []string
	for _, f := range files {
		data, err := e.Host.ReadFile(f)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				*problems = append(*problems, fmt.Sprintf("Could not read %s: %v.", f, err))
			}
			continue
		}
		opts, err := parse.ParseConf(data)
		if err != nil {
			*problems = append(*problems, fmt.Sprintf("%s: %v (the lines before it were used).", f, err))
		}
		n.Apply(opts)
		read = append(read, f)
	}
	if !n.Set() || len(read) == 0 {
		return nnpUnit{}, false
	}
	return nnpUnit{name: name, files: read, causes: n.Causes()}, true
}
