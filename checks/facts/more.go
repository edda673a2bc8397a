package facts

import (
	"errors"

	"github.com/rootless-doctor/rootless-doctor/checks/apparmor"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// DpkgStatusPath is dpkg's database of installed packages (Debian family).
const DpkgStatusPath = "/var/lib/dpkg/status"

type fileRead struct {
	data []byte
	err  error
}

// DpkgStatus reads dpkg's database once per run: it is large (hundreds of KiB on a desktop)
// and more than one probe asks it. Probes look packages up with DpkgPackageStatus and
// DpkgInstalledVersion, which record the names: a snapshot keeps only those stanzas.
func (e *Env) DpkgStatus() ([]byte, error) {
	r := e.dpkg.get(func() fileRead {
		data, err := e.Host.ReadFile(DpkgStatusPath)
		return fileRead{data, err}
	})
	return r.data, r.err
}

// DpkgPackageStatus is parse.DpkgPackageStatus on the run's dpkg database.
func (e *Env) DpkgPackageStatus(pkg string) (installed, found bool, err error) {
	x, err := e.dpkgFor(pkg)
	installed, found = x.PackageStatus(pkg)
	return installed, found, err
}

// DpkgInstalledVersion is parse.DpkgInstalledVersion on the run's dpkg database.
func (e *Env) DpkgInstalledVersion(pkg string) (string, bool) {
	x, _ := e.dpkgFor(pkg)
	return x.InstalledVersion(pkg)
}

// dpkgFor records the lookup of pkg and gives the run's index of dpkg's database, built on
// the first lookup: a static check asks for eight packages, and reading the whole database
// for each was a third of its CPU time (issue 16).
func (e *Env) dpkgFor(pkg string) (*parse.DpkgIndex, error) {
	e.dpkgMu.Lock()
	e.dpkgAsked = append(e.dpkgAsked, pkg)
	e.dpkgMu.Unlock()
	r := e.dpkgIndex.get(func() dpkgIndexed {
		if d, ok := e.Host.(host.Deriver); ok {
			if r, ok := dpkgDerived(d); ok {
				return r
			}
		}
		data, err := e.DpkgStatus()
		return dpkgIndexed{parse.IndexDpkg(data), err}
	})
	return r.x, r.err
}

// dpkgIndexKind names what dpkgDerived keeps: parse.DpkgIndex.AppendBinary's form.
const dpkgIndexKind = "dpkg-index-1"

// dpkgDerived is the index of dpkg's database from an account's cache, kept for the database
// file as it is (host.Deriver: a new inode or ctime is a miss, so an answer is never stale):
// a desktop's database is ~700 KB, and reading and indexing it was ~13% of a static check's
// CPU time (issue 16). ok is false when the cached bytes do not decode; the caller then
// indexes the database as without a cache.
func dpkgDerived(d host.Deriver) (dpkgIndexed, bool) {
	var x *parse.DpkgIndex
	b, err := d.Derived(DpkgStatusPath, dpkgIndexKind, "", func(data []byte) ([]byte, bool) {
		x = parse.IndexDpkg(data)
		out, _ := x.AppendBinary(nil)
		return out, true
	})
	if err != nil {
		return dpkgIndexed{parse.IndexDpkg(nil), err}, true
	}
	if x != nil {
		return dpkgIndexed{x, nil}, true // indexed just now
	}
	x, err = parse.DecodeDpkgIndex(b)
	return dpkgIndexed{x, nil}, err == nil
}

type dpkgIndexed struct {
	x   *parse.DpkgIndex
	err error
}

// DpkgAsked lists the packages looked up in dpkg's database so far (issue 15: a snapshot
// carried all of it, 706 KB on a desktop, where the probes read a handful of stanzas).
func (e *Env) DpkgAsked() []string {
	e.dpkgMu.Lock()
	defer e.dpkgMu.Unlock()
	return append([]string(nil), e.dpkgAsked...)
}

// SubIDSource is where shadow (and so newuidmap) takes subordinate ids from.
type SubIDSource struct {
	// Module is the libsubid module of the nsswitch `subid:` line, "" for the files.
	Module string
	Line   parse.NSSwitchLine
}

// SubIDSource reads /etc/nsswitch.conf once per run. shadow uses the files when it cannot
// open nsswitch.conf (lib/nss.c), and so do we.
func (e *Env) SubIDSource() SubIDSource {
	return e.subIDSource.get(func() SubIDSource {
		data, err := e.Host.ReadFile("/etc/nsswitch.conf")
		if err != nil {
			return SubIDSource{}
		}
		m, l := parse.SubIDModule(data)
		return SubIDSource{Module: m, Line: l}
	})
}

// AppArmor is the AppArmor policy of /etc/apparmor.d (apparmor.Load), read once per run.
func (e *Env) AppArmor() *apparmor.Policy {
	return e.appArmor.get(func() *apparmor.Policy { return apparmor.Load(e.Host) })
}

// ProcStatusPath is the status file of the doctor's own process: its credentials, its
// no_new_privs bit, its seccomp mode and its capability sets (proc(5)).
const ProcStatusPath = "/proc/self/status"

type procStatus struct {
	fields map[string]string
	err    error
}

// ProcStatus is /proc/self/status as "Key" → value (parse.ParseProcStatus), read once per run:
// the process context an engine started from this shell inherits. Checking on behalf of
// another account it describes root's process, not the account's session: probes that judge
// the session ask only when !OnBehalf. An empty file is an error: a recorded host that did not
// keep it says nothing.
func (e *Env) ProcStatus() (map[string]string, error) {
	r := e.procStatus.get(func() procStatus {
		data, err := e.Host.ReadFile(ProcStatusPath)
		if err != nil {
			return procStatus{err: err}
		}
		f := parse.ParseProcStatus(data)
		if len(f) == 0 {
			return procStatus{err: errors.New(ProcStatusPath + " holds no fields")}
		}
		return procStatus{fields: f}
	})
	return r.fields, r.err
}
