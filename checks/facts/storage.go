package facts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"

	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// Facts shared by storage.driver, storage.data-root and mount.propagation, computed once per
// run.

// MountinfoPath is the mount table of the doctor's own mount namespace. Checking on behalf of
// another account changes nothing here: the account's engine starts from the same namespace.
const MountinfoPath = "/proc/self/mountinfo"

// MountTable is the parsed mount table, or why it could not be read.
type MountTable struct {
	Mounts []*mountinfo.Info
	// Err is set when the file could not be read (Unparsable false) or parsed (true).
	Err        error
	Unparsable bool
}

// Mounts reads and parses /proc/self/mountinfo once per run.
func (e *Env) Mounts() MountTable {
	return e.mounts.get(func() MountTable {
		data, err := e.Host.ReadFile(MountinfoPath)
		if err != nil {
			return MountTable{Err: err}
		}
		m, err := parse.ParseMountinfo(data)
		return MountTable{Mounts: m, Err: err, Unparsable: err != nil}
	})
}

// Engines whose data roots the doctor checks.
const (
	EngineDocker = "docker"
	EnginePodman = "podman"
)

// DataRoot is where an engine keeps the account's images and layers, and what the doctor
// learnt about the filesystem that holds or will hold it.
type DataRoot struct {
	Engine string
	// Path is the data root, absolute.
	Path string
	// From says where Path came from ("default", or the config file and key).
	From string
	// ConfigFile and ConfigKey are where an admin moves the data root (for fix texts).
	ConfigFile, ConfigKey string
	// ConfigErr is set when the engine's config file exists but cannot be read or parsed;
	// ConfigFatal tells that the engine itself refuses to start on it.
	ConfigErr   error
	ConfigFatal bool
	// Driver is the storage driver the config selects, "" for automatic.
	Driver string
	// Existing is Path or, when Path does not exist yet, its nearest existing ancestor (the
	// engine creates the rest); Info is its metadata.
	Existing string
	Info     host.FileInfo
	// StatErr is a failure other than "does not exist" on the way up.
	StatErr error
	// FSType is the filesystem of Existing (host.FSType names), FSErr why it is unknown.
	FSType string
	FSErr  error
	// Evidence is what was read to find all this.
	Evidence []finding.Evidence
}

// Exists reports whether the data root itself exists.
func (d DataRoot) Exists() bool { return d.StatErr == nil && d.Existing == d.Path }

// xdgDir is an XDG base directory of the account: the variable when checking the running
// account and it is absolute (the spec ignores relative values), else HOME/def.
func xdgDir(e *Env, key, def string) string {
	if v, ok := e.Getenv(key); ok && path.IsAbs(v) {
		return path.Clean(v)
	}
	return path.Join(e.User.Home, def)
}

// absUnder makes p absolute, relative to the home directory when it is not: dockerd and
// containers/storage resolve a relative path against their working directory, which for a
// user service is the home directory.
func absUnder(e *Env, p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return path.Join(e.User.Home, p)
}

// DockerDataRoot is rootless dockerd's data root: "data-root" in
// $XDG_CONFIG_HOME/docker/daemon.json, else $XDG_DATA_HOME/docker
// (~/.local/share/docker; moby daemon/config getDefaultDataRoot in rootless mode).
func (e *Env) DockerDataRoot() DataRoot {
	return e.dockerRoot.get(func() DataRoot {
		d := DataRoot{Engine: EngineDocker, From: "default", ConfigKey: `"data-root"`}
		d.ConfigFile = path.Join(xdgDir(e, "XDG_CONFIG_HOME", ".config"), "docker", "daemon.json")
		d.Path = path.Join(xdgDir(e, "XDG_DATA_HOME", ".local/share"), "docker")
		data, err := e.Host.ReadFile(d.ConfigFile)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			d.ConfigErr = err
		default:
			cfg, err := parse.ParseDockerDaemonJSON(data)
			if err != nil {
				d.ConfigErr, d.ConfigFatal = err, true
				break
			}
			if cfg.DataRoot != "" {
				d.Path = absUnder(e, cfg.DataRoot)
				d.From = d.ConfigFile + ` "data-root"`
				d.Evidence = append(d.Evidence, finding.Evidence{Source: d.ConfigFile, Value: `"data-root": ` + strconv.Quote(cfg.DataRoot)})
			}
			if cfg.StorageDriver != "" {
				d.Driver = cfg.StorageDriver
				d.Evidence = append(d.Evidence, finding.Evidence{Source: d.ConfigFile, Value: `"storage-driver": ` + strconv.Quote(cfg.StorageDriver)})
			}
		}
		locate(e, &d)
		return d
	})
}

// PodmanDataRoot is the rootless graphroot of containers/storage (podman, buildah), and
// whether podman is in use at all (on PATH, or configured or used by the account). Where the
// graphroot comes from is PodmanStorage's: the account's own graphroot, else
// rootless_storage_path (which may use $HOME, $UID and $USER), else
// $XDG_DATA_HOME/containers/storage.
func (e *Env) PodmanDataRoot() (DataRoot, bool) {
	r := e.podmanRoot.get(func() podmanRoot {
		conf := e.PodmanStorage()
		d := DataRoot{Engine: EnginePodman, From: "default", ConfigKey: "graphroot", ConfigFile: conf.UserFile}
		d.Path = path.Join(xdgDir(e, "XDG_DATA_HOME", ".local/share"), "containers", "storage")
		d.ConfigErr = conf.Err
		switch {
		case conf.GraphRoot != "":
			d.Path = absUnder(e, expandStorageVars(e, conf.GraphRoot))
			d.From = conf.From["graphroot"] + " graphroot"
			d.Evidence = append(d.Evidence, finding.Evidence{Source: conf.From["graphroot"], Value: "graphroot = " + strconv.Quote(conf.GraphRoot)})
		case conf.RootlessStoragePath != "":
			d.Path = absUnder(e, expandStorageVars(e, conf.RootlessStoragePath))
			d.From = conf.From["rootless_storage_path"] + " rootless_storage_path"
			d.Evidence = append(d.Evidence, finding.Evidence{Source: conf.From["rootless_storage_path"], Value: "rootless_storage_path = " + strconv.Quote(conf.RootlessStoragePath)})
		}
		d.Driver = conf.Driver
		_, lookErr := e.LookPath("podman")
		locate(e, &d)
		return podmanRoot{d, lookErr == nil || conf.Own || d.Exists()}
	})
	return r.d, r.ok
}

// PodmanStorageConf is the storage configuration containers/storage gives the account's
// rootless podman and buildah, and where each value came from.
type PodmanStorageConf struct {
	// The effective values: Driver ("" for automatic, overlay2 already read as overlay),
	// GraphRoot (only the account's own, or any file's with drop-ins), RootlessStoragePath,
	// MountProgram and MountOpt.
	parse.ContainersStorageConf
	// From names the file that set each value, by key: "driver", "graphroot",
	// "rootless_storage_path", "mount_program", "mountopt"; "STORAGE_DRIVER" for the variable.
	From map[string]string
	// Files are the files read, in the order they apply.
	Files []string
	// UserFile is the account's own storage.conf (where a fix writes), or
	// $CONTAINERS_STORAGE_CONF when set.
	UserFile string
	// Own is true when the account's own file (or $CONTAINERS_STORAGE_CONF) is the main file.
	Own bool
	// Layered is true when drop-in directories exist (containers-config(5), Podman 6): every
	// file then applies key by key, rootless too.
	Layered bool
	// Err is why a file could not be read or parsed; the values read before it are kept.
	Err error
}

// storageConfDirs are the system locations of storage.conf, lowest precedence first
// (containers-config(5)).
var storageConfDirs = []string{"/usr/share/containers", "/etc/containers"}

// rootlessDrivers are the drivers containers/storage takes for rootless users from a system
// storage.conf (types/options.go isRootlessDriver); another is ignored there.
var rootlessDrivers = map[string]bool{"btrfs": true, "overlay": true, "overlay2": true, "vfs": true}

// PodmanStorage reads the account's rootless storage configuration once per run, the way
// containers/storage loads it:
//
//   - $CONTAINERS_STORAGE_CONF, when set, is the only file.
//   - Otherwise the main file is the first that exists of the account's
//     $XDG_CONFIG_HOME/containers/storage.conf, /etc/containers/storage.conf and
//     /usr/share/containers/storage.conf.
//   - Up to Podman 5 (containers/storage types/options.go getRootlessStorageOpts), the
//     account's own file applies whole; of a system file a rootless user gets only driver
//     (when it is a rootless driver) and rootless_storage_path, never its graphroot, mountopt
//     or mount_program.
//   - With Podman 6's drop-in directories (storage.conf.d, storage.rootless.conf.d,
//     storage.rootless.conf.d/UID under /usr/share/containers and /etc/containers, and the
//     account's storage.conf.d; containers-config(5)) every file applies, key by key, in name
//     order; a drop-in of the same name in a later directory replaces the earlier one.
//
// $STORAGE_DRIVER, when checking the running account, overrides the driver.
func (e *Env) PodmanStorage() PodmanStorageConf {
	return e.storageConf.get(func() PodmanStorageConf {
		c := PodmanStorageConf{From: map[string]string{}}
		userDir := path.Join(xdgDir(e, "XDG_CONFIG_HOME", ".config"), "containers")
		c.UserFile = path.Join(userDir, "storage.conf")
		var main []string
		if v, ok := e.Getenv("CONTAINERS_STORAGE_CONF"); ok && v != "" {
			c.UserFile = absUnder(e, v)
			main = []string{c.UserFile}
		} else {
			main = []string{c.UserFile, "/etc/containers/storage.conf", "/usr/share/containers/storage.conf"}
		}
		vals := map[string]string{}
		apply := func(f string, own bool) bool {
			data, err := e.Host.ReadFile(f)
			if errors.Is(err, fs.ErrNotExist) {
				return false
			}
			c.Files = append(c.Files, f)
			if err != nil {
				c.Err = err
				return true
			}
			got, err := parse.StorageConfValues(data)
			if err != nil {
				c.Err = fmt.Errorf("%s: %w", f, err)
			}
			for k, v := range got {
				short := k[strings.LastIndex(k, ".")+1:]
				if !own && !c.Layered {
					// Up to Podman 5 a system file gives a rootless user only these.
					if short != "driver" && short != "rootless_storage_path" || short == "driver" && !rootlessDrivers[v] {
						continue
					}
				}
				vals[k], c.From[short] = v, f
			}
			return true
		}
		dropins := e.storageDropins(userDir)
		c.Layered = len(dropins.dirs) > 0
		for i, f := range main {
			if apply(f, i == 0) {
				c.Own = i == 0
				break
			}
		}
		if main[0] == c.UserFile && c.Err == nil {
			for _, f := range dropins.files {
				apply(f, true)
			}
		}
		c.ContainersStorageConf = parse.StorageConfFrom(vals)
		if v, ok := e.Getenv("STORAGE_DRIVER"); ok && v != "" {
			c.Driver, c.From["driver"] = v, "STORAGE_DRIVER"
		}
		if c.Driver == "overlay2" {
			// containers/storage: "Switching default driver from overlay2 to the equivalent
			// overlay driver".
			c.Driver = "overlay"
		}
		return c
	})
}

type storageDropins struct {
	dirs  []string // drop-in directories that exist
	files []string // the drop-in files that apply, in order
}

// storageDropins lists the storage.conf drop-ins of containers-config(5) for the account.
func (e *Env) storageDropins(userDir string) storageDropins {
	var dirs []string
	for _, base := range storageConfDirs {
		dirs = append(dirs, base+"/storage.conf.d", base+"/storage.rootless.conf.d",
			fmt.Sprintf("%s/storage.rootless.conf.d/%d", base, e.User.UID))
	}
	dirs = append(dirs, userDir+"/storage.conf.d")
	var out storageDropins
	byName := map[string]string{}
	for _, d := range dirs {
		ents, err := e.Host.ReadDir(d)
		if err != nil {
			continue
		}
		out.dirs = append(out.dirs, d)
		for _, ent := range ents {
			if n := ent.Name(); strings.HasSuffix(n, ".conf") && !ent.IsDir() {
				byName[n] = d + "/" + n
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		out.files = append(out.files, byName[n])
	}
	return out
}

type podmanRoot struct {
	d  DataRoot
	ok bool
}

// expandStorageVars expands $HOME, $UID and $USER (and ${…}) the way containers/storage does
// for the account; other variables come from the environment when checking the running
// account and are left as they are otherwise.
func expandStorageVars(e *Env, s string) string {
	return os.Expand(s, func(k string) string {
		switch k {
		case "HOME":
			return e.User.Home
		case "UID":
			return strconv.Itoa(e.User.UID)
		case "USER":
			return e.User.Name
		}
		if v, ok := e.Getenv(k); ok {
			return v
		}
		return "$" + k
	})
}

// locate finds the nearest existing directory at or above d.Path and its filesystem.
func locate(e *Env, d *DataRoot) {
	p := path.Clean(d.Path)
	for {
		fi, err := e.Host.Stat(p)
		if err == nil {
			d.Existing, d.Info = p, fi
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			d.Existing, d.StatErr = p, err
			return
		}
		// A relative path (an account whose home is not absolute) ends at ".", not "/".
		if p == "/" || !path.IsAbs(p) {
			d.Existing, d.StatErr = p, err
			return
		}
		p = path.Dir(p)
	}
	d.FSType, d.FSErr = e.Host.FSType(d.Existing)
	if d.FSErr == nil {
		d.Evidence = append(d.Evidence, finding.Evidence{Source: "statfs " + d.Existing, Value: d.FSType})
	}
}

// MountOf returns the mount that holds p (symlinks resolved), or nil.
func (e *Env) MountOf(p string) *mountinfo.Info {
	mt := e.Mounts()
	if mt.Err != nil {
		return nil
	}
	if real, err := e.Host.EvalSymlinks(p); err == nil {
		p = real
	}
	return parse.MountFor(mt.Mounts, p)
}

// ConfigHome is the account's $XDG_CONFIG_HOME: the variable when checking the running
// account and it is absolute, else ~/.config.
func (e *Env) ConfigHome() string { return xdgDir(e, "XDG_CONFIG_HOME", ".config") }

// AbsUnderHome makes p absolute the way the engines do, relative to the home directory.
func (e *Env) AbsUnderHome(p string) string { return absUnder(e, p) }
