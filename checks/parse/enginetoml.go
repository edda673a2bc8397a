package parse

import (
	"bytes"
	"errors"
	"strings"

	gotoml "github.com/pelletier/go-toml/v2"
)

// NerdctlConf is nerdctl.toml: every key of nerdctl's Config (pkg/config/config.go,
// https://github.com/containerd/nerdctl/blob/v2.0.0/pkg/config/config.go), so that a key
// nerdctl does not know is refused here as it is there.
type NerdctlConf struct {
	Debug            bool     `toml:"debug"`
	DebugFull        bool     `toml:"debug_full"`
	Address          string   `toml:"address"`
	Namespace        string   `toml:"namespace"`
	Snapshotter      string   `toml:"snapshotter"`
	CNIPath          string   `toml:"cni_path"`
	CNINetConfPath   string   `toml:"cni_netconfpath"`
	DataRoot         string   `toml:"data_root"`
	CgroupManager    string   `toml:"cgroup_manager"`
	InsecureRegistry bool     `toml:"insecure_registry"`
	HostsDir         []string `toml:"hosts_dir"`
	Experimental     bool     `toml:"experimental"`
	HostGatewayIP    string   `toml:"host_gateway_ip"`
}

// ParseNerdctlConf decodes nerdctl.toml the way nerdctl does: pelletier/go-toml/v2 with
// DisallowUnknownFields, so an unknown key is an error and nerdctl refuses to run
// (`failed to load nerdctl config (not daemon config) from …`, cmd/nerdctl/main.go#L160 at
// v2.3.5; docs/engines.md §3).
func ParseNerdctlConf(data []byte) (NerdctlConf, error) {
	var c NerdctlConf
	if err := checkTOMLInput(data); err != nil {
		return c, err
	}
	dec := gotoml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(&c)
	var strict *gotoml.StrictMissingError
	if errors.As(err, &strict) {
		// The message lists every unknown key with its context; keep it short.
		return c, tomlError(errors.New("unknown keys (nerdctl refuses them): " + strings.TrimSpace(strict.String())))
	}
	return c, tomlError(err)
}

// BuildkitdConf is what the doctor reads of buildkitd.toml (buildkit cmd/buildkitd/config,
// decoded leniently with go-toml/v2: unknown keys are ignored, docs/engines.md §4).
type BuildkitdConf struct {
	Worker struct {
		OCI struct {
			Enabled     *bool  `toml:"enabled"`
			Snapshotter string `toml:"snapshotter"`
			Binary      string `toml:"binary"`
			Rootless    bool   `toml:"rootless"`
		} `toml:"oci"`
		Containerd struct {
			Enabled *bool `toml:"enabled"`
		} `toml:"containerd"`
	} `toml:"worker"`
}

// ParseBuildkitdConf decodes buildkitd.toml as buildkitd does (config.Load: go-toml/v2,
// lenient).
func ParseBuildkitdConf(data []byte) (BuildkitdConf, error) {
	var c BuildkitdConf
	if err := checkTOMLInput(data); err != nil {
		return c, err
	}
	return c, tomlError(gotoml.Unmarshal(data, &c))
}

// ContainerdConf is what the doctor reads of containerd's config.toml: the schema version
// and the plugins it disables. containerd 2.x decodes it with go-toml/v2 (strict first,
// then again leniently, logging unknown keys); 1.6/1.7 with go-toml v1, which accepts the same
// TOML 1.0 files (docs/engines.md §3). A syntax error is fatal in both.
type ContainerdConf struct {
	Version         int      `toml:"version"`
	DisabledPlugins []string `toml:"disabled_plugins"`
}

// ParseContainerdConf decodes containerd's config.toml leniently (unknown keys ignored).
func ParseContainerdConf(data []byte) (ContainerdConf, error) {
	var c ContainerdConf
	if err := checkTOMLInput(data); err != nil {
		return c, err
	}
	return c, tomlError(gotoml.Unmarshal(data, &c))
}

// NvidiaContainerConf is what the doctor reads of /etc/nvidia-container-runtime/config.toml:
// [nvidia-container-cli] no-cgroups, which rootless engines need set
// (https://github.com/NVIDIA/nvidia-container-toolkit, docs "Rootless"; catalogue
// nvidia-toolkit-cgroups-rootless).
type NvidiaContainerConf struct {
	CLI struct {
		NoCgroups bool `toml:"no-cgroups"`
	} `toml:"nvidia-container-cli"`
}

// ParseNvidiaContainerConf decodes the toolkit's config.toml (go-toml, lenient).
func ParseNvidiaContainerConf(data []byte) (NvidiaContainerConf, error) {
	var c NvidiaContainerConf
	if err := checkTOMLInput(data); err != nil {
		return c, err
	}
	return c, tomlError(gotoml.Unmarshal(data, &c))
}
