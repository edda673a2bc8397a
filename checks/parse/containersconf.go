package parse

import (
	"fmt"
	"maps"
	"slices"

	"github.com/BurntSushi/toml"
)

// ContainersConf is what the doctor reads of containers.conf(5), the configuration of Podman
// (containers/common pkg/config), after the whole chain of files was decoded
// (docs/engines.md §1.1). A field is empty when no file set it: the engine's compiled-in
// default applies then, which depends on its version and is decided in checks/facts.
type ContainersConf struct {
	// ContainersInitPath is [containers] init_path, EngineInitPath [engine] init_path.
	ContainersInitPath, EngineInitPath string
	// Runtime is [engine] runtime: the OCI runtime's name (or a path).
	Runtime string
	// Runtimes is [engine.runtimes]: the paths tried for each runtime name, merged per key
	// over the chain (a later file's list replaces an earlier one's for the same name).
	Runtimes map[string][]string
	// CgroupManager, EventsLogger, NetworkCmdPath: [engine] cgroup_manager, events_logger,
	// network_cmd_path.
	CgroupManager, EventsLogger, NetworkCmdPath string
	// ConmonPath and HelperBinariesDir: [engine] conmon_path, helper_binaries_dir; nil when
	// no file set them.
	ConmonPath, HelperBinariesDir []string
	// DefaultRootlessNetworkCmd and NetworkBackend: [network] default_rootless_network_cmd,
	// network_backend.
	DefaultRootlessNetworkCmd, NetworkBackend string
	// FirewallDriver is [network] firewall_driver (netavark 1.12): "nftables", "iptables", or
	// "" for netavark's build-time default.
	FirewallDriver string
	// PastaOptions is [network] pasta_options (Podman 5).
	PastaOptions []string
	// DefaultSysctls is [containers] default_sysctls: nil when no file set it (the
	// compiled-in default applies), empty when a file emptied it.
	DefaultSysctls []string
	// ImageCopyTmpDir is [engine] image_copy_tmp_dir: where pulls stage blobs ("storage" for
	// below the graphroot, an absolute path, or unset for $TMPDIR, then /var/tmp).
	ImageCopyTmpDir string
}

// containersConfFile mirrors the part of containers/common's Config the doctor reads, with the
// same TOML keys and types, so that BurntSushi/toml decodes a file into it exactly as it
// decodes it into the engine's struct: the same keys, the same type errors, keys the struct
// does not name ignored. S is the type of the string arrays: []string before containers/common
// v0.57 (Podman 4.8), attrSlice since (internal/attributedstring).
type containersConfFile[S any] struct {
	Containers struct {
		InitPath       string `toml:"init_path"`
		DefaultSysctls S      `toml:"default_sysctls"`
	} `toml:"containers"`
	Engine struct {
		Runtime           string              `toml:"runtime"`
		OCIRuntimes       map[string][]string `toml:"runtimes"`
		CgroupManager     string              `toml:"cgroup_manager"`
		EventsLogger      string              `toml:"events_logger"`
		InitPath          string              `toml:"init_path"`
		NetworkCmdPath    string              `toml:"network_cmd_path"`
		ConmonPath        S                   `toml:"conmon_path"`
		HelperBinariesDir S                   `toml:"helper_binaries_dir"`
		ImageCopyTmpDir   string              `toml:"image_copy_tmp_dir"`
	} `toml:"engine"`
	Network struct {
		DefaultRootlessNetworkCmd string `toml:"default_rootless_network_cmd"`
		NetworkBackend            string `toml:"network_backend"`
		FirewallDriver            string `toml:"firewall_driver"`
		PastaOptions              S      `toml:"pasta_options"`
	} `toml:"network"`
}

// attrSlice is containers/common's attributedstring.Slice (v0.57, Podman 4.8, through today):
// a string array that may end with the table {append=true}, which appends the array to the
// value earlier files gave instead of replacing it
// (https://github.com/containers/common/blob/v0.57.4/internal/attributedstring/slice.go).
// The append flag is kept on the merged value: once a file said append=true, every later
// file's array for that key is appended too, even without the attribute (docs/engines.md
// §1.1). Any other key in the table, an append that is not a bool, or an item that is neither
// a string nor a table is an error, as upstream.
type attrSlice struct {
	values []string
	set    bool
	append *bool
}

// UnmarshalTOML is attributedstring.Slice.UnmarshalTOML.
func (a *attrSlice) UnmarshalTOML(data any) error {
	items, ok := data.([]any)
	if !ok {
		return fmt.Errorf("unable to cast to interface array: %v", clipAny(data))
	}
	var loaded []string
	for _, x := range items {
		switch val := x.(type) {
		case string:
			loaded = append(loaded, val)
		case map[string]any:
			// Upstream ranges over the map: with several bad keys, which one it names
			// first is random; either way it is an error.
			for _, k := range slices.Sorted(maps.Keys(val)) {
				if k != "append" {
					return fmt.Errorf("unsupported key %q in map", clipString(k))
				}
				b, ok := val[k].(bool)
				if !ok {
					return fmt.Errorf("unable to cast append to bool: %v", k)
				}
				a.append = &b
			}
		default:
			return fmt.Errorf("unsupported item in attributed string slice: %v", clipAny(x))
		}
	}
	a.set = true
	if a.append != nil && *a.append {
		a.values = append(a.values, loaded...)
	} else {
		a.values = loaded
	}
	return nil
}

func clipString(s string) string { return fmt.Sprintf("%.80s", s) }
func clipAny(v any) string       { return clipString(fmt.Sprint(v)) }

// ContainersConfDecoder decodes the files of one containers.conf chain, in order, into one
// value, as containers/common does: each file is decoded by BurntSushi/toml into the struct
// the earlier files filled, so a file overrides only the keys it sets; tables merge key by
// key, maps per key, arrays are replaced (or appended, attrSlice).
type ContainersConfDecoder struct {
	attributed bool
	legacy     containersConfFile[[]string]
	modern     containersConfFile[attrSlice]
	// started: a file was decoded, so the next one is decoded onto it (not from the memo).
	started bool
}

// NewContainersConfDecoder starts a chain. attributed selects the string arrays of
// containers/common v0.57 and later (Podman 4.8 and later), which accept {append=true}; in
// older releases such a table in an array is a type error.
func NewContainersConfDecoder(attributed bool) *ContainersConfDecoder {
	return &ContainersConfDecoder{attributed: attributed}
}

// Decode decodes one file of the chain on top of the earlier ones. An error is what the
// engine reports for the file (a syntax error, a type mismatch); Podman refuses to run any
// command then (docs/engines.md §1.1). The value decoded before the error is kept, as
// upstream's, but the chain is broken: the caller stops there.
func (d *ContainersConfDecoder) Decode(data []byte) error {
	first := !d.started
	d.started = true
	if first {
		// The chain's first file decoded onto nothing: the distribution's, the same on
		// every host of a fleet (decodeMemo).
		if d.attributed {
			if f, ok := containersConfAttrMemo.get(data); ok {
				d.modern = f.clone(attrSlice.clone)
				return nil
			}
		} else if f, ok := containersConfMemo.get(data); ok {
			d.legacy = f.clone(slices.Clone[[]string])
			return nil
		}
	}
	if err := checkTOMLInput(data); err != nil {
		return err
	}
	var err error
	if d.attributed {
		_, err = toml.Decode(tomlText(data), &d.modern)
		if first && err == nil {
			containersConfAttrMemo.put(data, d.modern.clone(attrSlice.clone))
		}
	} else {
		_, err = toml.Decode(tomlText(data), &d.legacy)
		if first && err == nil {
			containersConfMemo.put(data, d.legacy.clone(slices.Clone[[]string]))
		}
	}
	return tomlError(err)
}

// Conf is the configuration the files decoded so far give.
func (d *ContainersConfDecoder) Conf() ContainersConf {
	if d.attributed {
		return d.modern.conf(func(s attrSlice) []string {
			if !s.set {
				return nil
			}
			return nonNil(s.values)
		})
	}
	return d.legacy.conf(func(s []string) []string { return s })
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (f *containersConfFile[S]) conf(list func(S) []string) ContainersConf {
	return ContainersConf{
		ContainersInitPath:        f.Containers.InitPath,
		EngineInitPath:            f.Engine.InitPath,
		Runtime:                   f.Engine.Runtime,
		Runtimes:                  nilIfEmpty(maps.Clone(f.Engine.OCIRuntimes)),
		CgroupManager:             f.Engine.CgroupManager,
		EventsLogger:              f.Engine.EventsLogger,
		NetworkCmdPath:            f.Engine.NetworkCmdPath,
		ConmonPath:                slices.Clone(list(f.Engine.ConmonPath)),
		HelperBinariesDir:         slices.Clone(list(f.Engine.HelperBinariesDir)),
		DefaultRootlessNetworkCmd: f.Network.DefaultRootlessNetworkCmd,
		NetworkBackend:            f.Network.NetworkBackend,
		FirewallDriver:            f.Network.FirewallDriver,
		PastaOptions:              slices.Clone(list(f.Network.PastaOptions)),
		DefaultSysctls:            slices.Clone(list(f.Containers.DefaultSysctls)),
		ImageCopyTmpDir:           f.Engine.ImageCopyTmpDir,
	}
}

// ParseContainersConf decodes one containers.conf file on its own.
func ParseContainersConf(data []byte, attributed bool) (ContainersConf, error) {
	d := NewContainersConfDecoder(attributed)
	err := d.Decode(data)
	return d.Conf(), err
}

func nilIfEmpty(m map[string][]string) map[string][]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
