package parse

import "github.com/BurntSushi/toml"

// ContainersStorageConf is what the doctor needs from a containers-storage.conf(5) file
// (podman, buildah, CRI-O): /etc/containers/storage.conf, /usr/share/containers/storage.conf,
// $CONTAINERS_STORAGE_CONF or the account's $XDG_CONFIG_HOME/containers/storage.conf.
type ContainersStorageConf struct {
	// Driver is [storage] driver ("overlay", "vfs", "btrfs", …).
	Driver string
	// GraphRoot is [storage] graphroot. In the account's own file it is the rootless data
	// root; in the system file it is root's, and rootless users get RootlessStoragePath.
	GraphRoot string
	// RootlessStoragePath is [storage] rootless_storage_path (may hold $HOME, $UID, $USER).
	RootlessStoragePath string
	// MountProgram is [storage.options.overlay] mount_program, or the older
	// [storage.options] mount_program when the first is not set: fuse-overlayfs when set.
	MountProgram string
}

// storageConfFile mirrors the keys of containers/storage's tomlConfig the doctor reads, with
// their TOML names and types (types/options.go, pkg/config/config.go), so that
// BurntSushi/toml, which containers/storage decodes storage.conf with, decodes it the same
// way: keys matched case-insensitively, unknown keys ignored, a wrong type an error.
type storageConfFile struct {
	Storage struct {
		Driver              string `toml:"driver"`
		GraphRoot           string `toml:"graphroot"`
		RootlessStoragePath string `toml:"rootless_storage_path"`
		Options             struct {
			MountProgram string `toml:"mount_program"`
			Overlay      struct {
				MountProgram string `toml:"mount_program"`
			} `toml:"overlay"`
		} `toml:"options"`
	} `toml:"storage"`
}

// ParseContainersStorageConf decodes storage.conf with BurntSushi/toml, as containers/storage
// does (ReloadConfigurationFile). An error is one the engine reports too: Podman then runs on
// the defaults with a warning (storage ≤ 1.46) or refuses (later releases); either way the
// file does not say what the doctor reads. What was decoded before the error is returned
// with it.
func ParseContainersStorageConf(data []byte) (ContainersStorageConf, error) {
	var f storageConfFile
	if err := checkTOMLInput(data); err != nil {
		return ContainersStorageConf{}, err
	}
	_, err := toml.Decode(string(data), &f)
	s := f.Storage
	c := ContainersStorageConf{Driver: s.Driver, GraphRoot: s.GraphRoot, RootlessStoragePath: s.RootlessStoragePath,
		MountProgram: s.Options.Overlay.MountProgram}
	if c.MountProgram == "" {
		c.MountProgram = s.Options.MountProgram
	}
	return c, tomlError(err)
}
