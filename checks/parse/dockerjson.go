package parse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// DockerDaemonConfig is what the doctor needs from dockerd's daemon.json (for rootless
// dockerd: $XDG_CONFIG_HOME/docker/daemon.json, by default ~/.config/docker/daemon.json).
type DockerDaemonConfig struct {
	// DataRoot is "data-root", empty when not set.
	DataRoot string
	// StorageDriver is "storage-driver", empty when not set.
	StorageDriver string
	// ExecOpts is "exec-opts" ("native.cgroupdriver=systemd", …).
	ExecOpts []string
	// ContainerdSnapshotter is "features": {"containerd-snapshotter": …}, nil when not set
	// (Docker 29 defaults to the containerd image store, moby/moby#53029).
	ContainerdSnapshotter *bool
	// Runtimes are the names of "runtimes" ("nvidia", …), DefaultRuntime "default-runtime".
	Runtimes       []string
	DefaultRuntime string
	// UserlandProxyPath is "userland-proxy-path": with it, dockerd ≤ 27 does not look
	// rootlesskit-docker-proxy up (moby@v20.10.24 cmd/dockerd/config_unix.go#L44).
	UserlandProxyPath string
	// UsernsRemap is "userns-remap", a rootful feature rootless dockerd cannot start with
	// (moby/moby#48521).
	UsernsRemap string
}

// ParseDockerDaemonJSON reads daemon.json the way dockerd does, tolerantly: a UTF-8 or UTF-16
// byte order mark is honoured (current dockerd decodes daemon.json with a BOM override, for
// files written by Windows editors), an empty or all-blank file is an empty configuration,
// and keys the doctor does not need may hold anything. What dockerd itself rejects is an
// error here too: invalid JSON, a top level that is not an object, or "data-root" /
// "storage-driver" that are not strings. dockerd refuses to start on any of these.
func ParseDockerDaemonJSON(data []byte) (DockerDaemonConfig, error) {
	var c DockerDaemonConfig
	obj, err := jsonObject(data)
	if err != nil || obj == nil {
		return c, err
	}
	if c.DataRoot, err = stringField(obj, "data-root"); err != nil {
		return c, err
	}
	if c.StorageDriver, err = stringField(obj, "storage-driver"); err != nil {
		return c, err
	}
	if c.DefaultRuntime, err = stringField(obj, "default-runtime"); err != nil {
		return c, err
	}
	if c.UserlandProxyPath, err = stringField(obj, "userland-proxy-path"); err != nil {
		return c, err
	}
	if c.UsernsRemap, err = stringField(obj, "userns-remap"); err != nil {
		return c, err
	}
	if raw, ok := obj["exec-opts"]; ok {
		if err := json.Unmarshal(raw, &c.ExecOpts); err != nil {
			return c, fmt.Errorf("parsing JSON: \"exec-opts\" must be an array of strings, not %s", kindOf(raw))
		}
	}
	if raw, ok := obj["runtimes"]; ok {
		var rt map[string]json.RawMessage
		if err := json.Unmarshal(raw, &rt); err != nil {
			return c, fmt.Errorf("parsing JSON: \"runtimes\" must be an object, not %s", kindOf(raw))
		}
		c.Runtimes = slices.Sorted(maps.Keys(rt))
	}
	if raw, ok := obj["features"]; ok {
		var feat map[string]json.RawMessage
		if err := json.Unmarshal(raw, &feat); err != nil {
			return c, fmt.Errorf("parsing JSON: \"features\" must be an object, not %s", kindOf(raw))
		}
		if v, ok := feat["containerd-snapshotter"]; ok {
			var b bool
			if err := json.Unmarshal(v, &b); err != nil {
				return c, fmt.Errorf("parsing JSON: \"features\".\"containerd-snapshotter\" must be a boolean, not %s", kindOf(v))
			}
			c.ContainerdSnapshotter = &b
		}
	}
	return c, nil
}

// CgroupDriver is the value of the native.cgroupdriver exec-opt ("systemd", "cgroupfs"), ""
// when not set.
func (c DockerDaemonConfig) CgroupDriver() string {
	for _, o := range c.ExecOpts {
		if k, v, ok := strings.Cut(o, "="); ok && strings.TrimSpace(k) == "native.cgroupdriver" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// DockerCLIConfig is what the doctor needs from the docker CLI's config.json
// ($DOCKER_CONFIG/config.json, by default ~/.docker/config.json).
type DockerCLIConfig struct {
	// CurrentContext is "currentContext": the context `docker context use` selected. Empty
	// or "default" means the default context, which talks to DOCKER_HOST or, when that is
	// unset, unix:///var/run/docker.sock.
	CurrentContext string
}

// ParseDockerCLIConfig reads the docker CLI's config.json, as tolerantly as
// ParseDockerDaemonJSON.
func ParseDockerCLIConfig(data []byte) (DockerCLIConfig, error) {
	var c DockerCLIConfig
	obj, err := jsonObject(data)
	if err != nil || obj == nil {
		return c, err
	}
	c.CurrentContext, err = stringField(obj, "currentContext")
	return c, err
}

// ParseDockerContextMeta reads the endpoint host of a docker CLI context from its meta.json
// (~/.docker/contexts/meta/<sha256 of the name>/meta.json):
// {"Name": "rootless", "Endpoints": {"docker": {"Host": "unix:///run/user/1000/docker.sock"}}}.
// It returns the context's name and its docker endpoint host ("" when it has none).
func ParseDockerContextMeta(data []byte) (name, dockerHost string, err error) {
	var meta struct {
		Name      string `json:"Name"`
		Endpoints map[string]struct {
			Host string `json:"Host"`
		} `json:"Endpoints"`
	}
	data, err = utf8JSON(data)
	if err != nil {
		return "", "", err
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return "", "", fmt.Errorf("parsing docker context meta: %w", err)
	}
	return meta.Name, meta.Endpoints["docker"].Host, nil
}

// jsonObject decodes a top-level JSON object into raw fields. Blank input is (nil, nil).
func jsonObject(data []byte) (map[string]json.RawMessage, error) {
	data, err := utf8JSON(data)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("parsing JSON: %w", err)
	}
	if obj == nil {
		// The literal null: not an object, and dockerd rejects it.
		return nil, errors.New("parsing JSON: the top level is null, not an object")
	}
	return obj, nil
}

// stringField reads a string-valued key; absent or null is "".
func stringField(obj map[string]json.RawMessage, key string) (string, error) {
	raw, ok := obj[key]
	if !ok {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("parsing JSON: %q must be a string, not %s", key, kindOf(raw))
	}
	return s, nil
}

func kindOf(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// utf8JSON strips a UTF-8 byte order mark and converts UTF-16 with a BOM to UTF-8.
func utf8JSON(data []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		return data[3:], nil
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		return utf16ToUTF8(data[2:], false)
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		return utf16ToUTF8(data[2:], true)
	}
	return data, nil
}

func utf16ToUTF8(b []byte, bigEndian bool) ([]byte, error) {
	if len(b)%2 != 0 {
		return nil, errors.New("parsing JSON: UTF-16 text with an odd number of bytes")
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		if bigEndian {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			u[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
		}
	}
	out := make([]byte, 0, len(u))
	for _, r := range utf16.Decode(u) {
		out = utf8.AppendRune(out, r)
	}
	return out, nil
}
