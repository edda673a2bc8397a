package facts

import (
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/rootless-doctor/rootless-doctor/checks/parse"
)

// SystemdConfFiles lists the files of a systemd configuration in the order systemd applies
// them: the main file (the first of mains that exists; mains are highest priority first),
// then the *.conf drop-ins of dropinDirs sorted by file name, where a name in a
// higher-priority directory hides the same name in a lower one (systemd.unit(5),
// systemd-logind.conf(5) "Configuration Directories and Precedence"). dropinDirs are highest
// priority first. found is false when no main file exists.
func (e *Env) SystemdConfFiles(mains, dropinDirs []string) (files []string, found bool) {
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

// UserUnit is a systemd user unit of the account as `systemd --user` loads it: its unit file
// and drop-ins, the environment its Environment= lines set and its ExecStart= command line.
// The engines' setup tools write their units into ~/.config/systemd/user
// (dockerd-rootless-setuptool.sh: docker.service; containerd-rootless-setuptool.sh:
// containerd.service, buildkit.service); drop-ins there are where Docker's docs put
// DOCKERD_ROOTLESS_ROOTLESSKIT_* settings.
type UserUnit struct {
	Name string
	// Main is the unit file, "" when none exists; Files are the files read, main first.
	Main  string
	Files []string
	// Env is what Environment= sets, later files overriding earlier ones; EnvFrom names the
	// file that set each variable last.
	Env, EnvFrom map[string]string
	// ExecStart is the command line of the last ExecStart= (after resets), ExecStartFrom the
	// file it is in; nil when the unit has none.
	ExecStart     []string
	ExecStartFrom string
}

// UserUnitDirs are the directories systemd --user loads the account's units from that the
// doctor reads, highest priority first (systemd.unit(5), "User Unit Search Path"): the
// account's own, the administrator's, the distribution's.
func (e *Env) UserUnitDirs() []string {
	dirs := []string{}
	if e.UserErr == nil && e.User.Home != "" {
		dirs = append(dirs, path.Join(e.User.Home, ".config/systemd/user"))
	}
	return append(dirs, "/etc/systemd/user", "/usr/lib/systemd/user")
}

// UserUnit reads the account's user unit name ("docker.service") once per run.
func (e *Env) UserUnit(name string) UserUnit {
	e.unitMu.Lock()
	if e.units == nil {
		e.units = map[string]*once[UserUnit]{}
	}
	o, ok := e.units[name]
	if !ok {
		o = &once[UserUnit]{}
		e.units[name] = o
	}
	e.unitMu.Unlock()
	return o.get(func() UserUnit { return e.userUnit(name) })
}

func (e *Env) userUnit(name string) UserUnit {
	u := UserUnit{Name: name, Env: map[string]string{}, EnvFrom: map[string]string{}}
	var mains, dropins []string
	for _, d := range e.UserUnitDirs() {
		mains = append(mains, d+"/"+name)
		dropins = append(dropins, d+"/"+name+".d")
	}
	files, found := e.SystemdConfFiles(mains, dropins)
	if found {
		u.Main = files[0]
	}
	for _, f := range files {
		data, err := e.Host.ReadFile(f)
		if err != nil {
			continue
		}
		u.Files = append(u.Files, f)
		for k, v := range parse.ParseUnitEnvironment(data) {
			u.Env[k], u.EnvFrom[k] = v, f
		}
		lines, reset := parse.ParseUnitExecStart(data)
		if reset {
			u.ExecStart, u.ExecStartFrom = nil, ""
		}
		if len(lines) > 0 {
			u.ExecStart, u.ExecStartFrom = lines[len(lines)-1], f
		}
	}
	return u
}

// unitsOnce is embedded in Env: the user units read so far, by name.
type unitsOnce struct {
	unitMu sync.Mutex
	units  map[string]*once[UserUnit]
}
