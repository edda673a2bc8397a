package facts

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"

	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

// Facts the engine probes share (docs/engines.md): the programs an engine runs and their
// versions, read once per run.

// The engines the engine.* probes judge, by the names --engine takes.
const (
	EngineNerdctl  = "nerdctl"
	EngineBuildkit = "buildkit"
)

// Engines lists the engines in report order.
var Engines = []string{EngineDocker, EnginePodman, EngineNerdctl, EngineBuildkit}

// Binary is a program an engine runs: where it is and what version it is.
type Binary struct {
	// Name is what the engine looks for ("crun", "conmon").
	Name string
	// Path is where it was found, "" when it was not.
	Path string
	// Version is nil when unknown; Raw is the version as printed or packaged.
	Version *parse.Version
	Raw     string
	// From says where the version came from ("dpkg: crun 1.8.1-1+deb12u1", "crun --version").
	From string
	// Err is set when the program is there but running it failed.
	Err error
}

// Found reports whether the program was found.
func (b Binary) Found() bool { return b.Path != "" }

// Describe is "crun 1.8.1", "crun (version unknown)" or "no crun".
func (b Binary) Describe() string {
	switch {
	case !b.Found():
		return "no " + b.Name
	case b.Raw != "":
		return b.Name + " " + b.Raw
	}
	return b.Name + " (version unknown)"
}

// AtLeast reports whether the version is known and at least v ("1.0.0-rc91").
func (b Binary) AtLeast(v string) bool {
	c, err := parse.NewVersion(v)
	return err == nil && b.Version != nil && !b.Version.LessThan(c)
}

// Evidence is the binary as evidence.
func (b Binary) Evidence() finding.Evidence {
	if !b.Found() {
		return finding.Evidence{Source: "PATH", Value: "no " + b.Name}
	}
	v := b.Path
	if b.Raw != "" {
		v += ": " + b.Name + " " + b.Raw
	}
	if b.Err != nil {
		v += ": " + b.Err.Error()
	}
	return finding.Evidence{Source: orDefault(b.From, b.Path), Value: v}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// FindIn is the first of dirs holding an executable name, "" when none does. Lookups go
// through Host.LookPath with a slash, so a recorded host replays them.
func (e *Env) FindIn(dirs []string, name string) string {
	for _, d := range dirs {
		if d == "" || !path.IsAbs(d) {
			continue
		}
		if p, err := e.LookPath(path.Join(d, name)); err == nil {
			return p
		}
	}
	return ""
}

// Executable reports whether p is an executable regular file (symlinks followed).
func (e *Env) Executable(p string) bool {
	_, err := e.LookPath(p)
	return err == nil
}

// Versioned reads the version of the program at p: from the distribution's package
// database when p is the package's own binary (reading dpkg's status costs microseconds,
// `podman --version` 200 ms, docs/engines.md §5), else by running `p --version`. who is the
// first word of its --version line ("Docker" for dockerd), pkgs the packages that ship it.
// Memoised per path.
func (e *Env) Versioned(ctx context.Context, name, p, who string, pkgs ...string) Binary {
	if p == "" {
		return Binary{Name: name}
	}
	key := name + "\x00" + p
	e.binMu.Lock()
	if e.binaries == nil {
		e.binaries = map[string]*once[Binary]{}
	}
	o, ok := e.binaries[key]
	if !ok {
		o = &once[Binary]{}
		e.binaries[key] = o
	}
	e.binMu.Unlock()
	return o.get(func() Binary { return e.versioned(ctx, name, p, who, pkgs) })
}

func (e *Env) versioned(ctx context.Context, name, p, who string, pkgs []string) Binary {
	b := Binary{Name: name, Path: p}
	if e.packaged(p) {
		for _, pkg := range pkgs {
			if full, ok := e.PackageVersion(pkg); ok {
				b.Raw = full
				b.From = e.packageDB() + ": " + pkg + " " + full
				if v, err := parse.PackageVersion(full); err == nil {
					b.Version = v
					b.Raw = parse.DebianUpstreamVersion(full)
				}
				return b
			}
		}
	}
	out, err := e.Host.Run(ctx, p, "--version")
	b.From = p + " --version"
	switch {
	case err != nil:
		// Not run (not recorded on a replay, a timeout): the version is unknown, which says
		// nothing against the program.
		return b
	case out.ExitCode != 0:
		b.Err = fmt.Errorf("exit status %d: %s", out.ExitCode, finding.ClipLine(strings.TrimSpace(string(out.Stderr)), 200))
		return b
	}
	if v, raw, err := parse.ParseEngineVersion(out.Stdout, who); err == nil {
		b.Version, b.Raw = v, raw
	}
	return b
}

// packaged reports whether p is where distribution packages put binaries: a binary elsewhere
// (/usr/local/bin, ~/bin) is not the package's, and only running it tells its version.
func (e *Env) packaged(p string) bool {
	d := path.Dir(p)
	return d == "/usr/bin" || d == "/usr/sbin" || d == "/usr/libexec/podman" || d == "/usr/lib/podman"
}

func (e *Env) packageDB() string {
	if e.Distro.Family == distro.FamilyArch {
		return "pacman"
	}
	return "dpkg"
}

// PackageVersion is the installed version of a distribution package, from dpkg's status
// database (Debian family) or pacman's local database (Arch); false elsewhere (reading the
// rpm database needs librpm, docs/engines.md §5).
func (e *Env) PackageVersion(pkg string) (string, bool) {
	switch e.Distro.Family {
	case distro.FamilyDebian:
		// Through DpkgInstalledVersion, which records the lookup: a snapshot keeps only the
		// stanzas the probes asked for (DpkgAsked).
		return e.DpkgInstalledVersion(pkg)
	case distro.FamilyArch:
		for _, ent := range e.pacmanLocal() {
			if n, v, ok := parse.PacmanEntry(ent); ok && n == pkg {
				return v, true
			}
		}
	}
	return "", false
}

// pacmanLocal lists /var/lib/pacman/local once per run: one directory NAME-VERSION-REL per
// installed package.
func (e *Env) pacmanLocal() []string {
	return e.pacman.get(func() []string {
		ents, err := e.Host.ReadDir("/var/lib/pacman/local")
		if err != nil {
			return nil
		}
		var out []string
		for _, d := range ents {
			if d.IsDir() {
				out = append(out, d.Name())
			}
		}
		return out
	})
}

// ProbeResult runs a probe's check at most once per run and shares the result: the runner
// runs every probe through it, and an engine probe that needs a generic probe's verdict
// (net.tun for slirp4netns) asks for it by id and waits for the same run, never a second one.
func (e *Env) ProbeResult(id string, run func() finding.Result) finding.Result {
	e.probeMu.Lock()
	if e.probes == nil {
		e.probes = map[string]*once[finding.Result]{}
	}
	o, ok := e.probes[id]
	if !ok {
		o = &once[finding.Result]{}
		e.probes[id] = o
	}
	e.probeMu.Unlock()
	return o.get(run)
}

// TunUsable reports whether the account can open /dev/net/tun read-write, and if not, why.
func (e *Env) TunUsable() (bool, string) {
	fi, err := e.Host.Stat("/dev/net/tun")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, "/dev/net/tun does not exist"
	case err != nil:
		return false, "cannot stat /dev/net/tun: " + err.Error()
	case !fi.IsCharDevice():
		return false, "/dev/net/tun is not a character device"
	case !e.CanReadWrite(fi):
		return false, fmt.Sprintf("/dev/net/tun is mode %04o owned by %d:%d, which %s cannot open", fi.Mode.Perm(), fi.UID, fi.GID, e.User.Name)
	}
	return true, ""
}

// HybridControllers are the controllers of the cgroup v2 mount of a hybrid hierarchy
// (/sys/fs/cgroup/unified/cgroup.controllers): crun refuses to run when there is any
// (docs/engines.md §1.8). Empty on other hierarchies.
func (e *Env) HybridControllers() []string {
	if e.Cgroup() != CgroupHybrid {
		return nil
	}
	data, err := e.Host.ReadFile("/sys/fs/cgroup/unified/cgroup.controllers")
	if err != nil {
		return nil
	}
	return strings.Fields(string(data))
}

// binaryState is the memo of the binaries read (Versioned), by name and path.
type binaryState struct {
	binMu    sync.Mutex
	binaries map[string]*once[Binary]
	pacman   once[[]string]
	probeMu  sync.Mutex
	probes   map[string]*once[finding.Result]
	podman   once[*Podman]
	docker   once[*Docker]
	nerdctl  once[*Nerdctl]
	buildkit once[*Buildkit]
}
