package parse

import (
	"encoding/json"
	"fmt"
)

// DockerDaemonNet is what net.iptables needs of dockerd's daemon.json: the settings that
// decide which kernel support the bridge driver asks for. Nil pointers are keys not set
// (dockerd's defaults: iptables true, icc true, userland-proxy true).
type DockerDaemonNet struct {
	// Iptables is "iptables"; false turns off dockerd's NAT and filtering rules.
	Iptables *bool
	// ICC is "icc"; false restricts inter-container traffic, which needs br_netfilter.
	ICC *bool
	// UserlandProxy is "userland-proxy"; false replaces the proxy by DNAT, which needs
	// br_netfilter (moby daemon/libnetwork/drivers/bridge: enableBrNfCallIptables).
	UserlandProxy *bool
}

// ParseDockerDaemonNet reads those keys of daemon.json as tolerantly as
// ParseDockerDaemonJSON; a key of the wrong type is an error, as dockerd refuses it.
func ParseDockerDaemonNet(data []byte) (DockerDaemonNet, error) {
	var c DockerDaemonNet
	obj, err := jsonObject(data)
	if err != nil || obj == nil {
		return c, err
	}
	for key, dst := range map[string]**bool{"iptables": &c.Iptables, "icc": &c.ICC, "userland-proxy": &c.UserlandProxy} {
		raw, ok := obj[key]
		if !ok {
			continue
		}
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return DockerDaemonNet{}, fmt.Errorf("parsing JSON: %q must be a boolean, not %s", key, kindOf(raw))
		}
		*dst = &b
	}
	return c, nil
}
