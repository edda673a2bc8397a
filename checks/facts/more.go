package facts

import (
	"github.com/rootless-doctor/rootless-doctor/checks/apparmor"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
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
	data, err := e.dpkgFor(pkg)
	installed, found = parse.DpkgPackageStatus(data, pkg)
	return installed, found, err
}

// DpkgInstalledVersion is parse.DpkgInstalledVersion on the run's dpkg database.
func (e *Env) DpkgInstalledVersion(pkg string) (string, bool) {
	data, _ := e.dpkgFor(pkg)
	return parse.DpkgInstalledVersion(data, pkg)
}

func (e *Env) dpkgFor(pkg string) ([]byte, error) {
	e.dpkgMu.Lock()
	e.dpkgAsked = append(e.dpkgAsked, pkg)
	e.dpkgMu.Unlock()
	return e.DpkgStatus()
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
