package facts

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/parse"
)

// Sysctl values are set twice: now (in /proc/sys) and at every boot (from sysctl.d files). A
// host can pass today and fail after the next reboot because a hardening file re-applies
// user.max_user_namespaces=0 (CIS/STIG baselines, Debian's hardening-runtime, see
// konstruktoid/ansible-role-docker-rootless#249). The userns probes therefore read the boot
// configuration too, through the one scanner below.

// SysctlDirs are the sysctl.d(5) directories, highest precedence first: a file in an earlier
// directory masks a file with the same name in a later one. /lib/sysctl.d is read by
// procps' `sysctl --system` on hosts where /lib is not merged into /usr.
var SysctlDirs = []string{"/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d"}

// SysctlConfFile is read last by `sysctl --system` (procps); systemd-sysctl reads it through
// the /etc/sysctl.d/99-sysctl.conf symlink Debian and Fedora ship.
const SysctlConfFile = "/etc/sysctl.conf"

// SysctlSetting is one assignment found in the boot configuration.
type SysctlSetting struct {
	// File is the file as listed in its directory (or SysctlConfFile), Real the file it
	// resolves to (the same when it is no symlink).
	File, Real string
	// Name is the file name the order of application is decided by; "" for SysctlConfFile,
	// which `sysctl --system` reads after every sysctl.d file.
	Name  string
	Line  int
	Key   string
	Value string
}

// String is "FILE:LINE sets key = value", for details.
func (s SysctlSetting) String() string {
	return fmt.Sprintf("%s:%d sets %s = %s", s.File, s.Line, s.Key, s.Value)
}

// SysctlBoot is the whole boot configuration, in the order it is applied.
type SysctlBoot struct {
	Settings []SysctlSetting
	// Problems are files or directories that could not be read (permission denied), so the
	// answer may be incomplete.
	Problems []string
}

// SysctlBoot scans the sysctl.d directories and /etc/sysctl.conf once per run, in the order
// systemd-sysctl(8) and `sysctl --system` apply them: all *.conf files sorted by file name
// regardless of directory (a name in an earlier directory masks the same name in a later
// one, a link to /dev/null masks it entirely), then /etc/sysctl.conf. The last assignment of
// a key wins.
// It is the one model of the boot configuration: the userns probes read it, and so does the
// planner (fixes), to find the files that would undo its sysctl file at boot.
func (e *Env) SysctlBoot() SysctlBoot {
	return e.sysctlBoot.get(func() SysctlBoot {
		var b SysctlBoot
		byName := map[string]string{}
		for _, dir := range SysctlDirs {
			ents, err := e.Host.ReadDir(dir)
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					b.Problems = append(b.Problems, fmt.Sprintf("%s: %v", dir, err))
				}
				continue
			}
			for _, ent := range ents {
				name := ent.Name()
				if !strings.HasSuffix(name, ".conf") || strings.Contains(name, "/") || strings.HasPrefix(name, ".") {
					continue
				}
				if _, masked := byName[name]; !masked {
					byName[name] = path.Join(dir, name)
				}
			}
		}
		names := make([]string, 0, len(byName))
		for n := range byName {
			names = append(names, n)
		}
		sort.Strings(names)
		files := make([]string, 0, len(names)+1)
		for _, n := range names {
			files = append(files, byName[n])
		}
		files = append(files, SysctlConfFile)

		seen := map[string]bool{}
		for _, f := range files {
			real, err := e.Host.EvalSymlinks(f)
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					b.Problems = append(b.Problems, fmt.Sprintf("%s: %v", f, err))
				}
				continue
			}
			// /dev/null masks a vendor file; 99-sysctl.conf → ../sysctl.conf must not count
			// twice (it is applied where it first appears).
			if real == "/dev/null" || seen[real] {
				continue
			}
			seen[real] = true
			data, err := e.Host.ReadFile(f)
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					b.Problems = append(b.Problems, fmt.Sprintf("%s: %v", f, err))
				}
				continue
			}
			name := path.Base(f)
			if f == SysctlConfFile {
				name = ""
			}
			for _, a := range parse.ParseSysctlConf(data).Assignments {
				b.Settings = append(b.Settings, SysctlSetting{File: f, Real: real, Name: name, Line: a.Line, Key: a.Key, Value: a.Value})
			}
		}
		return b
	})
}

// Of returns the assignments of key in the order they are applied (the last one wins at
// boot).
func (b SysctlBoot) Of(key string) []SysctlSetting {
	var out []SysctlSetting
	for _, s := range b.Settings {
		if s.Key == key {
			out = append(out, s)
		}
	}
	return out
}

// Last is the value key gets at the next boot, and where from; ok is false when no file
// sets it (the kernel's or the distribution's default applies).
func (b SysctlBoot) Last(key string) (last SysctlSetting, ok bool) {
	s := b.Of(key)
	if len(s) == 0 {
		return SysctlSetting{}, false
	}
	return s[len(s)-1], true
}

// ProcSysVisible reports whether /proc/sys can be read at all. Without it (no /proc mounted,
// a recorded tree without /proc) a missing sysctl proves nothing.
func (e *Env) ProcSysVisible() bool {
	return e.procSys.get(func() bool {
		fi, err := e.Host.Stat("/proc/sys")
		return err == nil && fi.IsDir()
	})
}
