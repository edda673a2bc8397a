package checks

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

// Sysctl values are set twice: now (in /proc/sys) and at every boot (from sysctl.d files). A
// host can pass today and fail after the next reboot because a hardening file re-applies
// user.max_user_namespaces=0 (CIS/STIG baselines, Debian's hardening-runtime, see
// konstruktoid/ansible-role-docker-rootless#249). The userns probes therefore read the boot
// configuration too, through the one scanner below.

// sysctlDirs are the sysctl.d(5) directories, highest precedence first: a file in an earlier
// directory masks a file with the same name in a later one. /lib/sysctl.d is read by
// procps' `sysctl --system` on hosts where /lib is not merged into /usr.
var sysctlDirs = []string{"/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d"}

// sysctlConfFile is read last by `sysctl --system` (procps); systemd-sysctl reads it through
// the /etc/sysctl.d/99-sysctl.conf symlink Debian and Fedora ship.
const sysctlConfFile = "/etc/sysctl.conf"

// sysctlSetting is one assignment found in the boot configuration.
type sysctlSetting struct {
	File  string
	Line  int
	Key   string
	Value string
}

// String is "FILE:LINE sets key = value", for details.
func (s sysctlSetting) String() string {
	return fmt.Sprintf("%s:%d sets %s = %s", s.File, s.Line, s.Key, s.Value)
}

// evidence adds the setting as evidence: the file, and the line in it.
func (s sysctlSetting) evidence(r finding.Result) finding.Result {
	return r.With(s.File, fmt.Sprintf("line %d: %s = %s", s.Line, s.Key, s.Value))
}

// sysctlBoot is the whole boot configuration, in the order it is applied.
type sysctlBoot struct {
	Settings []sysctlSetting
	// Problems are files or directories that could not be read (permission denied), so the
	// answer may be incomplete.
	Problems []string
}

// bootSysctls scans the sysctl.d directories and /etc/sysctl.conf once per run, in the order
// systemd-sysctl(8) and `sysctl --system` apply them: all *.conf files sorted by file name
// regardless of directory (a name in an earlier directory masks the same name in a later
// one, a link to /dev/null masks it entirely), then /etc/sysctl.conf. The last assignment of
// a key wins.
func bootSysctls(e *Env) sysctlBoot {
	return Memo(e, "sysctl.boot", func() sysctlBoot {
		var b sysctlBoot
		byName := map[string]string{}
		for _, dir := range sysctlDirs {
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
		files = append(files, sysctlConfFile)

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
			for _, a := range parse.ParseSysctlConf(data).Assignments {
				b.Settings = append(b.Settings, sysctlSetting{File: f, Line: a.Line, Key: a.Key, Value: a.Value})
			}
		}
		return b
	})
}

// bootSysctl returns the assignments of key in the boot configuration in the order they are
// applied (the last one wins at boot), and the files that could not be read.
func bootSysctl(e *Env, key string) (settings []sysctlSetting, problems []string) {
	b := bootSysctls(e)
	for _, s := range b.Settings {
		if s.Key == key {
			settings = append(settings, s)
		}
	}
	return settings, b.Problems
}

// bootValue is the value key gets at the next boot, and where from; ok is false when no file
// sets it (the kernel's or the distribution's default applies).
func bootValue(e *Env, key string) (last sysctlSetting, ok bool) {
	s, _ := bootSysctl(e, key)
	if len(s) == 0 {
		return sysctlSetting{}, false
	}
	return s[len(s)-1], true
}

// procSysVisible reports whether /proc/sys can be read at all. Without it (no /proc mounted,
// a recorded tree without /proc) a missing sysctl proves nothing.
func procSysVisible(e *Env) bool {
	return Memo(e, "procsys", func() bool {
		fi, err := e.Host.Stat("/proc/sys")
		return err == nil && fi.IsDir()
	})
}

// withBootProblems notes the boot configuration files that could not be read: the value a
// key gets at boot may then differ from what the probe saw.
func withBootProblems(e *Env, r finding.Result) finding.Result {
	for _, p := range bootSysctls(e).Problems {
		r = r.Detail("Could not read %s, so the value set at boot may differ from what was checked.", p)
	}
	return r
}

// readSysctlInt reads the integer sysctl key for a probe: r starts its result (evidence of
// the value) and n is the number. absent says the key does not exist on a kernel whose /proc/sys
// is readable; each probe says what that means. When stop is set, r is the result to return as
// it is: the value is unreadable, /proc/sys is hidden, or the value is not a number.
func readSysctlInt(e *Env, key string) (r finding.Result, n int64, absent, stop bool) {
	p := SysctlPath(key)
	val, err := e.Sysctl(key)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !procSysVisible(e) {
			return finding.Undecided(err, "/proc/sys is not readable, so %s cannot be checked", key), 0, false, true
		}
		return finding.Result{}, 0, true, false
	case err != nil:
		return finding.Undecided(err, "cannot read %s", p), 0, false, true
	}
	r = finding.Result{}.With(p, val)
	n, err = parse.ParseSysctlInt([]byte(val))
	if err != nil {
		r.Err = err
		r.Summary = fmt.Sprintf("%s holds %q, not a number", p, clipForSummary(val, 40))
		return r, 0, false, true
	}
	return r, n, false, false
}
