package parse

import (
	"maps"
	"strings"

	"github.com/BurntSushi/toml"
)

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
	// MountOpt is [storage.options.overlay] mountopt, or the older [storage.options]
	// mountopt when the first is not set: extra options of every overlay mount
	// ("nodev,metacopy=on").
	MountOpt string
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
			MountOpt     string `toml:"mountopt"`
			Overlay      struct {
				MountProgram string `toml:"mount_program"`
				MountOpt     string `toml:"mountopt"`
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
	vals, err := StorageConfValues(data)
	return StorageConfFrom(vals), err
}

// storageConfKeys maps the dotted keys the doctor reads to their fields. Where two keys set
// the same field, the [storage.options.overlay] one is listed last: it wins over the older
// [storage.options] key, as in containers/storage.
var storageConfKeys = []struct {
	key   string
	value func(*storageConfFile) string
	field func(*ContainersStorageConf) *string
}{
	{"storage.driver", func(f *storageConfFile) string { return f.Storage.Driver }, func(c *ContainersStorageConf) *string { return &c.Driver }},
	{"storage.graphroot", func(f *storageConfFile) string { return f.Storage.GraphRoot }, func(c *ContainersStorageConf) *string { return &c.GraphRoot }},
	{"storage.rootless_storage_path", func(f *storageConfFile) string { return f.Storage.RootlessStoragePath }, func(c *ContainersStorageConf) *string { return &c.RootlessStoragePath }},
	{"storage.options.mount_program", func(f *storageConfFile) string { return f.Storage.Options.MountProgram }, func(c *ContainersStorageConf) *string { return &c.MountProgram }},
	{"storage.options.overlay.mount_program", func(f *storageConfFile) string { return f.Storage.Options.Overlay.MountProgram }, func(c *ContainersStorageConf) *string { return &c.MountProgram }},
	{"storage.options.mountopt", func(f *storageConfFile) string { return f.Storage.Options.MountOpt }, func(c *ContainersStorageConf) *string { return &c.MountOpt }},
	{"storage.options.overlay.mountopt", func(f *storageConfFile) string { return f.Storage.Options.Overlay.MountOpt }, func(c *ContainersStorageConf) *string { return &c.MountOpt }},
}

// StorageConfValues decodes one storage.conf as ParseContainersStorageConf does and returns
// the keys of storageConfKeys the file sets (dotted, lower case: "storage.driver"), with
// their values: a key set to "" is there, so that a later file of a layered configuration
// (containers-config(5)) can reset an earlier one's value. Keys are matched
// case-insensitively, as BurntSushi/toml matches them to the engine's fields. What was
// decoded before an error is returned with it.
func StorageConfValues(data []byte) (map[string]string, error) {
	if vals, ok := storageConfMemo.get(data); ok {
		return maps.Clone(vals), nil
	}
	vals := map[string]string{}
	var f storageConfFile
	if err := checkTOMLInput(data); err != nil {
		return vals, err
	}
	md, err := toml.Decode(tomlText(data), &f)
	set := map[string]bool{}
	for _, k := range md.Keys() {
		set[strings.ToLower(k.String())] = true
	}
	for _, k := range storageConfKeys {
		if set[k.key] {
			vals[k.key] = k.value(&f)
		}
	}
	if err == nil {
		storageConfMemo.put(data, maps.Clone(vals))
	}
	return vals, tomlError(err)
}

// StorageConfFrom builds the configuration from the values StorageConfValues found (one
// file's, or the merge of several: a key a later file sets replaces the earlier value).
func StorageConfFrom(vals map[string]string) ContainersStorageConf {
	var c ContainersStorageConf
	for _, k := range storageConfKeys {
		if v, ok := vals[k.key]; ok && (v != "" || *k.field(&c) == "") {
			*k.field(&c) = v
		}
	}
	return c
}
