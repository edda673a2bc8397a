package facts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"

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
// whether podman is in use at all (on PATH, or configured or used by the account).
//
// containers-storage.conf(5): $CONTAINERS_STORAGE_CONF names the only file read when set.
// Otherwise the account's $XDG_CONFIG_HOME/containers/storage.conf replaces the system file
// when it exists; its graphroot is the rootless data root. Without it, rootless users get
// rootless_storage_path from /etc/containers/storage.conf (or /usr/share/containers/…),
// else $XDG_DATA_HOME/containers/storage. rootless_storage_path and graphroot may use
// $HOME, $UID and $USER.
func (e *Env) PodmanDataRoot() (DataRoot, bool) {
	r := e.podmanRoot.get(func() podmanRoot {
		d := DataRoot{Engine: EnginePodman, From: "default", ConfigKey: "graphroot"}
		userConf := path.Join(xdgDir(e, "XDG_CONFIG_HOME", ".config"), "containers", "storage.conf")
		d.ConfigFile = userConf
		d.Path = path.Join(xdgDir(e, "XDG_DATA_HOME", ".local/share"), "containers", "storage")
		candidates := []string{userConf, "/etc/containers/storage.conf", "/usr/share/containers/storage.conf"}
		if v, ok := e.Getenv("CONTAINERS_STORAGE_CONF"); ok && v != "" {
			candidates = []string{absUnder(e, v)}
			d.ConfigFile = candidates[0]
		}
		configured := false
		for i, f := range candidates {
			data, err := e.Host.ReadFile(f)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				d.ConfigErr = err
				break
			}
			conf, err := parse.ParseContainersStorageConf(data)
			if err != nil {
				d.ConfigErr = fmt.Errorf("%s: %w", f, err)
				break
			}
			own := i == 0 // the account's own file (or CONTAINERS_STORAGE_CONF)
			configured = configured || own
			if own && conf.GraphRoot != "" {
				d.Path = absUnder(e, expandStorageVars(e, conf.GraphRoot))
				d.From = f + " graphroot"
				d.Evidence = append(d.Evidence, finding.Evidence{Source: f, Value: "graphroot = " + strconv.Quote(conf.GraphRoot)})
			} else if conf.RootlessStoragePath != "" {
				d.Path = absUnder(e, expandStorageVars(e, conf.RootlessStoragePath))
				d.From = f + " rootless_storage_path"
				d.Evidence = append(d.Evidence, finding.Evidence{Source: f, Value: "rootless_storage_path = " + strconv.Quote(conf.RootlessStoragePath)})
			}
			if conf.Driver != "" {
				d.Driver = conf.Driver
			}
			break
		}
		_, lookErr := e.Host.LookPath("podman")
		locate(e, &d)
		return podmanRoot{d, lookErr == nil || configured || d.Exists()}
	})
	return r.d, r.ok
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
