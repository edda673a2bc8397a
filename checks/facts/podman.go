package facts

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

// Podman is Podman's effective configuration for the account, resolved the way the installed
// Podman resolves it (docs/engines.md §1), and the programs it will run.
type Podman struct {
	Binary Binary
	// Files are the containers.conf files read, in order; ConfErr is the first one that
	// does not decode (Podman refuses every command then), ConfErrFile its path.
	Files       []string
	ConfErr     error
	ConfErrFile string
	Conf        parse.ContainersConf
	// RuntimeName is the OCI runtime Podman picks, RuntimeFrom why; Runtime the program
	// (Path "" when Podman will not find it).
	RuntimeName, RuntimeFrom string
	Runtime                  Binary
	// Runc is runc wherever Podman would find it, for the crun-on-hybrid fix; Crun the path
	// of crun where Podman would find it ("" when it would not), for the old-runc fix.
	Runc Binary
	Crun string
	// CgroupManager and where it came from; Bus: a session bus Podman accepts.
	CgroupManager, CgroupManagerFrom string
	Bus                              bool
	// Conmon is the conmon Podman picks (Path "" when none works), ConmonTried the
	// candidates.
	Conmon      Binary
	ConmonTried []string
	// Catatonit is the init binary for --init and pods, "" when missing; CatatonitTried
	// the candidates.
	Catatonit      string
	CatatonitTried []string
	HelperDirs     []string
	// Netavark is netavark in the helper dirs ("" when it is not there): Podman looks for it
	// there only (FindHelperBinary("netavark", false)), and a netavark network backend
	// without it stops every podman run.
	Netavark string
	// NetworkCmd is the default rootless network ("slirp4netns" or "pasta") and where it
	// came from; NetworkBin the program.
	NetworkCmd, NetworkCmdFrom string
	// NetworkCmdFile is the file that set default_rootless_network_cmd, "" for the default.
	NetworkCmdFile string
	NetworkBin     Binary
	// PastaHelp is what `pasta --help` printed (pasta's options), PastaHelpErr why not.
	// PastaHelpCut: its stdout stopped at a stdio buffer boundary, so the text is only a
	// head of the help (pastaHelpCut).
	PastaHelp    string
	PastaHelpErr error
	PastaHelpCut bool
	// Storage is the containers/storage configuration.
	Storage PodmanStorage
	// Policy is the signature policy file containers/image reads, "" when none exists.
	Policy string

	// steps is the configuration after each file of Files.
	steps []parse.ContainersConf
}

// PodmanStorage is the storage configuration of rootless Podman (docs/engines.md §1.6).
type PodmanStorage struct {
	File       string // the storage.conf read, "" for none
	Err        error
	Driver     string
	DriverFrom string
	GraphRoot  string
	// MountProgram is the configured mount_program, "" for none.
	MountProgram string
}

// Version returns major and minor of Podman, and whether they are known.
func (p *Podman) Version() (major, minor uint64, ok bool) {
	if p.Binary.Version == nil {
		return 0, 0, false
	}
	return p.Binary.Version.Major(), p.Binary.Version.Minor(), true
}

// AtLeast reports whether Podman is at least major.minor; an unknown version counts as the
// newest behaviour the doctor knows (Podman 5).
func (p *Podman) AtLeast(major, minor uint64) bool {
	M, m, ok := p.Version()
	if !ok {
		return major <= 5 && minor <= 6 || major < 5
	}
	return M > major || M == major && m >= minor
}

// Compiled-in defaults of containers/common (podman@v4.3.1 vendor/…/pkg/config/default.go#L325,
// config_linux.go#L47; the same in 5.x).
var (
	podmanRuntimeOrder = []string{"crun", "runc", "runj", "kata", "runsc"}
	podmanRuntimePaths = func(name string) []string {
		ps := []string{"/usr/bin/", "/usr/sbin/", "/usr/local/bin/", "/usr/local/sbin/", "/sbin/", "/bin/", "/run/current-system/sw/bin/"}
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = p + name
		}
		if name == "runc" {
			out = append(out, "/usr/lib/cri-o-runc/sbin/runc")
		}
		return out
	}
	podmanConmonPaths = []string{"/usr/libexec/podman/conmon", "/usr/local/libexec/podman/conmon", "/usr/local/lib/podman/conmon",
		"/usr/bin/conmon", "/usr/sbin/conmon", "/usr/local/bin/conmon", "/usr/local/sbin/conmon", "/run/current-system/sw/bin/conmon"}
	podmanHelperDirs = []string{"/usr/local/libexec/podman", "/usr/local/lib/podman", "/usr/libexec/podman", "/usr/lib/podman"}
)

// podmanCatatonit is the init binary's default path (init_path, default.go#L62).
const podmanCatatonit = "/usr/libexec/podman/catatonit"

// Podman resolves Podman's configuration once per run; nil when podman is not installed.
func (e *Env) Podman(ctx context.Context) *Podman {
	return e.podman.get(func() *Podman {
		p, err := e.LookPath("podman")
		if err != nil {
			return nil
		}
		pm := &Podman{Binary: e.Versioned(ctx, "podman", p, "podman", "podman")}
		e.podmanConf(pm)
		if pm.ConfErr != nil {
			return pm
		}
		e.podmanHelpers(ctx, pm)
		e.podmanRuntime(ctx, pm)
		e.podmanCgroups(pm)
		e.podmanNetwork(ctx, pm)
		e.podmanStorage(pm)
		for _, f := range []string{path.Join(xdgDir(e, "XDG_CONFIG_HOME", ".config"), "containers/policy.json"), "/etc/containers/policy.json"} {
			if _, err := e.Host.Stat(f); err == nil {
				pm.Policy = f
				break
			}
		}
		return pm
	})
}

// podmanConf decodes the containers.conf chain of the installed release (docs/engines.md
// §1.1): CONTAINERS_CONF alone when set; else /usr/share, /etc and its drop-ins, (5.7+) the
// rootless files of /etc, the account's file and drop-ins; CONTAINERS_CONF_OVERRIDE last
// (4.8+). A file that does not exist is skipped; one that does not decode stops the chain.
func (e *Env) podmanConf(pm *Podman) {
	attributed := pm.AtLeast(4, 8) // containers/common v0.57: attributedstring.Slice
	dec := parse.NewContainersConfDecoder(attributed)
	var chain []string
	required := map[string]string{}
	if v, ok := e.Getenv("CONTAINERS_CONF"); ok && v != "" {
		chain = []string{absUnder(e, v)}
		required[chain[0]] = "CONTAINERS_CONF"
	} else {
		chain = append(chain, "/usr/share/containers/containers.conf", "/etc/containers/containers.conf")
		chain = append(chain, e.dropIns("/etc/containers/containers.conf.d")...)
		if pm.AtLeast(5, 7) {
			// container-libs@8ebc3b1: systemd-wide rootless search locations.
			chain = append(chain, "/etc/containers/containers.rootless.conf")
			chain = append(chain, e.dropIns("/etc/containers/containers.rootless.conf.d")...)
			chain = append(chain, e.dropIns(fmt.Sprintf("/etc/containers/containers.rootless.conf.d/%d", e.User.UID))...)
		}
		user := path.Join(xdgDir(e, "XDG_CONFIG_HOME", ".config"), "containers")
		chain = append(chain, path.Join(user, "containers.conf"))
		chain = append(chain, e.dropIns(path.Join(user, "containers.conf.d"))...)
	}
	if pm.AtLeast(4, 8) {
		if v, ok := e.Getenv("CONTAINERS_CONF_OVERRIDE"); ok && v != "" {
			f := absUnder(e, v)
			chain = append(chain, f)
			required[f] = "CONTAINERS_CONF_OVERRIDE"
		}
	}
	for _, f := range chain {
		data, err := e.Host.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			if env, ok := required[f]; ok {
				pm.ConfErr, pm.ConfErrFile = fmt.Errorf("%s file: %w", env, err), f
				return
			}
			continue
		}
		if err != nil {
			pm.ConfErr, pm.ConfErrFile = err, f
			return
		}
		pm.Files = append(pm.Files, f)
		if err := dec.Decode(data); err != nil {
			pm.ConfErr, pm.ConfErrFile = fmt.Errorf("decode configuration %s: %w", f, err), f
			return
		}
		pm.steps = append(pm.steps, dec.Conf())
	}
	pm.Conf = dec.Conf()
}

// dropIns are the *.conf entries of a drop-in directory that are not directories, in byte
// order (sort.Strings upstream; Host.ReadDir sorts by name).
func (e *Env) dropIns(dir string) []string {
	ents, err := e.Host.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, d := range ents {
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".conf") {
			out = append(out, path.Join(dir, d.Name()))
		}
	}
	slices.Sort(out)
	return out
}

// podmanHelpers resolves helper_binaries_dir ($BINDIR is the directory of podman) and finds
// netavark, conmon and catatonit (docs/engines.md §1.3).
func (e *Env) podmanHelpers(ctx context.Context, pm *Podman) {
	dirs := pm.Conf.HelperBinariesDir
	if dirs == nil {
		dirs = podmanHelperDirs
	}
	if v, ok := e.Getenv("CONTAINERS_HELPER_BINARY_DIR"); ok && v != "" {
		dirs = append([]string{v}, dirs...)
	}
	for _, d := range dirs {
		pm.HelperDirs = append(pm.HelperDirs, strings.ReplaceAll(d, "$BINDIR", path.Dir(pm.Binary.Path)))
	}
	pm.Netavark = e.helperBinary(pm, "netavark", false)
	// conmon: each conmon_path entry, then $PATH; each candidate must run and be 2.0.1 or
	// later (findConmonPath, podman@v4.3.1 …/config.go#L950).
	cands := pm.Conf.ConmonPath
	if cands == nil {
		cands = podmanConmonPaths
	}
	cands = slices.Clone(cands)
	if p, err := e.LookPath("conmon"); err == nil {
		cands = append(cands, p)
	}
	pm.ConmonTried = cands
	for _, c := range cands {
		if !e.Executable(c) {
			continue
		}
		b := e.Versioned(ctx, "conmon", c, "conmon", "conmon")
		if b.Err != nil || b.Version != nil && !b.AtLeast("2.0.1") {
			pm.Conmon = b // remembered: the reason when nothing works
			continue
		}
		pm.Conmon = b
		break
	}
	if pm.Conmon.Found() && (pm.Conmon.Err != nil || pm.Conmon.Version != nil && !pm.Conmon.AtLeast("2.0.1")) {
		pm.Conmon.Path, pm.Conmon.Err = "", fmt.Errorf("%s does not work: %w", pm.Conmon.Describe(), errOr(pm.Conmon.Err, "older than 2.0.1"))
	}
	// catatonit: before 4.8 only init_path (default /usr/libexec/podman/catatonit,
	// podman@v4.3.1 pkg/specgen/generate/storage.go#L374); from 4.8 FindInitBinary: the
	// init_paths, the default path, then the helper dirs and $PATH (…/config.go#L1211).
	var initCands []string
	for _, p := range []string{pm.Conf.ContainersInitPath, pm.Conf.EngineInitPath} {
		if p != "" {
			initCands = append(initCands, p)
		}
	}
	if !pm.AtLeast(4, 8) {
		if len(initCands) == 0 {
			initCands = []string{podmanCatatonit}
		}
		initCands = initCands[:1]
		pm.CatatonitTried = initCands
		if _, err := e.Host.Stat(initCands[0]); err == nil {
			pm.Catatonit = initCands[0]
		}
		return
	}
	initCands = append(initCands, podmanCatatonit)
	pm.CatatonitTried = append(initCands, "catatonit in "+strings.Join(pm.HelperDirs, ", ")+" and $PATH")
	for _, c := range initCands {
		if _, err := e.Host.Stat(c); err == nil {
			pm.Catatonit = c
			return
		}
	}
	pm.Catatonit = e.helperBinary(pm, "catatonit", true)
}

func errOr(err error, msg string) error {
	if err != nil {
		return err
	}
	return errors.New(msg)
}

// helperBinary is FindHelperBinary: the helper dirs, then $PATH when the caller allows it.
func (e *Env) helperBinary(pm *Podman, name string, searchPath bool) string {
	if p := e.FindIn(pm.HelperDirs, name); p != "" {
		return p
	}
	if searchPath {
		if p, err := e.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// podmanRuntime decides the OCI runtime (docs/engines.md §1.2): [engine] runtime, else the
// first of crun, runc, … installed at a compiled-in path or on $PATH; then its program, from
// the merged [engine.runtimes] table, else $PATH.
func (e *Env) podmanRuntime(ctx context.Context, pm *Podman) {
	table := map[string][]string{}
	order := slices.Clone(podmanRuntimeOrder)
	if pm.AtLeast(4, 7) {
		order = append(order, "ocijail")
	}
	for _, n := range order {
		table[n] = podmanRuntimePaths(n)
	}
	maps.Copy(table, pm.Conf.Runtimes)
	find := func(name string, t map[string][]string) string {
		if strings.HasPrefix(name, "/") {
			if e.Executable(name) {
				return name
			}
			return ""
		}
		for _, p := range t[name] {
			if fi, err := e.Host.Stat(p); err == nil && fi.Mode.IsRegular() {
				return p
			}
		}
		if p, err := e.LookPath(name); err == nil {
			return p
		}
		return ""
	}
	switch {
	case pm.Conf.Runtime != "":
		pm.RuntimeName = pm.Conf.Runtime
		pm.RuntimeFrom = "runtime = " + strconv.Quote(pm.Conf.Runtime) + " in " + pm.setBy(func(c parse.ContainersConf) string { return c.Runtime })
	default:
		defaults := map[string][]string{}
		for _, n := range order {
			defaults[n] = podmanRuntimePaths(n)
		}
		for _, n := range order {
			if find(n, defaults) != "" {
				pm.RuntimeName = n
				pm.RuntimeFrom = "Podman's default: the first of " + strings.Join(order[:2], ", ") + ", … that is installed"
				break
			}
		}
		if pm.RuntimeName == "" {
			// runtime.go#L188: runc, or crun on cgroup v2.
			pm.RuntimeName, pm.RuntimeFrom = "runc", "Podman's default (no OCI runtime is installed)"
			if e.Cgroup() == CgroupUnified {
				pm.RuntimeName = "crun"
			}
		}
	}
	name := path.Base(pm.RuntimeName)
	pm.Runtime = e.Versioned(ctx, name, find(pm.RuntimeName, table), name, name)
	if name == "runc" {
		pm.Runc = pm.Runtime
	} else {
		pm.Runc = e.Versioned(ctx, "runc", find("runc", table), "runc", "runc")
	}
	pm.Crun = find("crun", table)
}

// setBy names the last file of the chain that sets a key, by decoding the chain's prefix
// again: the files are few and small.
func (pm *Podman) setBy(get func(parse.ContainersConf) string) string {
	return orDefault(pm.lastSetter(get), "containers.conf")
}

// ConfSetBy is the last file of the chain that changed the value get reads, "" when none
// did (storage.tmpdir names the file that set image_copy_tmp_dir).
func (pm *Podman) ConfSetBy(get func(parse.ContainersConf) string) string {
	return pm.lastSetter(get)
}

// lastSetter is the last file that changed the value get reads, "" when none did.
func (pm *Podman) lastSetter(get func(parse.ContainersConf) string) string {
	prev, who := "", ""
	for i, c := range pm.steps {
		if v := get(c); v != prev {
			prev, who = v, pm.Files[i]
		}
	}
	return who
}

// podmanCgroups decides the cgroup manager (docs/engines.md §1.4): cgroup_manager, else
// systemd when PID 1 is systemd, but cgroupfs for rootless on a hierarchy that is not unified.
func (e *Env) podmanCgroups(pm *Podman) {
	switch {
	case pm.Conf.CgroupManager != "":
		pm.CgroupManager, pm.CgroupManagerFrom = pm.Conf.CgroupManager, "cgroup_manager in "+pm.setBy(func(c parse.ContainersConf) string { return c.CgroupManager })
	case e.pid1() != "systemd":
		pm.CgroupManager, pm.CgroupManagerFrom = "cgroupfs", "Podman's default: PID 1 is not systemd"
	case e.Cgroup() != CgroupUnified:
		pm.CgroupManager, pm.CgroupManagerFrom = "cgroupfs", "Podman's default for rootless on cgroup v1"
	default:
		pm.CgroupManager, pm.CgroupManagerFrom = "systemd", "Podman's default: PID 1 is systemd"
	}
	pm.Bus = e.SessionBus()
}

// pid1 is /proc/1/comm, trimmed ("" when unreadable).
func (e *Env) pid1() string {
	data, err := e.Host.ReadFile("/proc/1/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// SessionBus reports whether the account has a session bus the way Podman and runc look
// for one: $DBUS_SESSION_BUS_ADDRESS whose unix:path exists; on behalf of the account
// (no environment of its own), the bus socket in its runtime directory.
func (e *Env) SessionBus() bool {
	if v, ok := e.Getenv("DBUS_SESSION_BUS_ADDRESS"); ok && v != "" {
		for _, part := range strings.Split(v, ";") {
			for _, kv := range strings.Split(strings.TrimPrefix(part, "unix:"), ",") {
				if p, ok := strings.CutPrefix(kv, "path="); ok {
					_, err := e.Host.Stat(p)
					return err == nil
				}
			}
		}
		return true
	}
	if !e.OnBehalf {
		return false
	}
	_, err := e.Host.Stat(path.Join(e.RuntimeDir(), "bus"))
	return err == nil
}

// podmanNetwork decides the default rootless network (docs/engines.md §1.5): slirp4netns
// before Podman 5 (4.3 hard-codes it; the key is read since pasta support, 4.4), pasta since;
// default_rootless_network_cmd overrides.
func (e *Env) podmanNetwork(ctx context.Context, pm *Podman) {
	pm.NetworkCmd, pm.NetworkCmdFrom = "slirp4netns", "Podman's default before 5.0"
	if pm.AtLeast(5, 0) {
		pm.NetworkCmd, pm.NetworkCmdFrom = "pasta", "Podman's default since 5.0"
	}
	if c := pm.Conf.DefaultRootlessNetworkCmd; c != "" && pm.AtLeast(4, 4) {
		pm.NetworkCmd = c
		pm.NetworkCmdFile = pm.setBy(func(c parse.ContainersConf) string { return c.DefaultRootlessNetworkCmd })
		pm.NetworkCmdFrom = "default_rootless_network_cmd in " + pm.NetworkCmdFile
	}
	switch pm.NetworkCmd {
	case "slirp4netns":
		p := pm.Conf.NetworkCmdPath
		if p == "" || !e.Executable(p) {
			p = e.helperBinary(pm, "slirp4netns", true)
		}
		pm.NetworkBin = Binary{Name: "slirp4netns", Path: p}
	case "pasta":
		p := e.helperBinary(pm, "pasta", true)
		pm.NetworkBin = Binary{Name: "pasta", Path: p}
		if p != "" {
			out, err := e.Host.Run(ctx, p, "--help")
			// pasta --help exits 1 on Debian 12's passt and writes to stderr (§1.5).
			pm.PastaHelp, pm.PastaHelpErr = string(out.Stdout)+string(out.Stderr), err
			pm.PastaHelpCut = pastaHelpCut(out.Stdout)
		}
	}
}

// pastaHelpCut reports whether pasta's --help on stdout lost its tail. Since passt 2025
// (2025_05_03 in Debian 13; 2025_01_10 still called exit()), usage() prints the help to stdout
// with stdio and leaves with _exit(), which does not flush stdio
// (https://passt.top/passt/tree/conf.c?h=2025_05_03.587980c, usage()). Stdout is a pipe here,
// so glibc buffers it in blocks of the pipe's st_blksize (the page size, 4 KiB or 64 KiB) and
// only whole blocks reach us: Debian 13's pasta gives the first 4096 bytes, which end before
// --config-net (measured; the VM lab, docs/engines.md §1.5). A complete help of exactly a
// whole number of blocks is taken as cut too: that only leaves options unconfirmed.
func pastaHelpCut(stdout []byte) bool {
	return len(stdout) > 0 && len(stdout)%4096 == 0
}

// podmanStorage resolves storage.conf and the driver (docs/engines.md §1.6).
func (e *Env) podmanStorage(pm *Podman) {
	s := &pm.Storage
	userConf := path.Join(xdgDir(e, "XDG_CONFIG_HOME", ".config"), "containers", "storage.conf")
	var sys, user parse.ContainersStorageConf
	read := func(f string) (parse.ContainersStorageConf, bool) {
		data, err := e.Host.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			return parse.ContainersStorageConf{}, false
		}
		if err != nil {
			s.Err = err
			return parse.ContainersStorageConf{}, true
		}
		c, err := parse.ParseContainersStorageConf(data)
		if err != nil {
			s.Err = fmt.Errorf("%s: %w", f, err)
		}
		return c, true
	}
	haveUser := false
	if v, ok := e.Getenv("CONTAINERS_STORAGE_CONF"); ok && v != "" {
		s.File = absUnder(e, v)
		user, haveUser = read(s.File)
	} else if c, ok := read(userConf); ok {
		s.File, user, haveUser = userConf, c, true
	} else {
		for _, f := range []string{"/etc/containers/storage.conf", "/usr/share/containers/storage.conf"} {
			if c, ok := read(f); ok {
				s.File, sys = f, c
				break
			}
		}
	}
	d, _ := e.PodmanDataRoot()
	s.GraphRoot = d.Path
	rootless := map[string]bool{"overlay": true, "vfs": true, "btrfs": true, "zfs": true}
	switch {
	case haveUser && user.Driver != "":
		s.Driver, s.DriverFrom = user.Driver, "driver in "+s.File
		s.MountProgram = user.MountProgram
	case !haveUser && sys.Driver != "" && rootless[strings.Replace(sys.Driver, "overlay2", "overlay", 1)]:
		s.Driver, s.DriverFrom = strings.Replace(sys.Driver, "overlay2", "overlay", 1), "driver in "+s.File
		s.MountProgram = sys.MountProgram
	default:
		if haveUser {
			s.MountProgram = user.MountProgram
		}
		if v, ok := e.Getenv("STORAGE_DRIVER"); ok && v != "" {
			s.Driver, s.DriverFrom = v, "$STORAGE_DRIVER"
			return
		}
		if !pm.AtLeast(4, 6) {
			// containers/storage ≤ 1.46 (podman@v4.3.1 …/storage/types/options.go#L270).
			s.Driver, s.DriverFrom = "vfs", "Podman's default before 4.6 without a storage.conf driver"
			return
		}
		// containers/storage@e3b18ab "types: try harder to use overlay with rootless".
		for _, drv := range []string{"overlay", "vfs", "btrfs", "zfs"} {
			if fi, err := e.Host.Stat(path.Join(s.GraphRoot, drv+"-images")); err == nil && fi.IsDir() {
				s.Driver, s.DriverFrom = drv, "the existing "+path.Join(s.GraphRoot, drv+"-images")
				return
			}
		}
		k, kerr := e.Kernel()
		_, ferr := e.LookPath("fuse-overlayfs")
		if ferr == nil || kerr == nil && k.AtLeast(5, 13) {
			s.Driver, s.DriverFrom = "overlay", "Podman's default (kernel 5.13 or later, or fuse-overlayfs)"
			return
		}
		s.Driver, s.DriverFrom = "vfs", "Podman's default without native overlay or fuse-overlayfs"
	}
}

// VersionBefore is a helper for callers that compare a binary's version with a constraint.
func VersionBefore(v *parse.Version, c string) bool {
	cv, err := parse.NewVersion(c)
	return err == nil && v != nil && v.LessThan(cv)
}

// ConfEvidence is where each key of the effective configuration came from.
func (pm *Podman) ConfEvidence() []finding.Evidence {
	var ev []finding.Evidence
	for _, f := range pm.Files {
		ev = append(ev, finding.Evidence{Source: "containers.conf chain", Value: f})
	}
	return ev
}
