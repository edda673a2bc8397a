package checks

import (
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

const portPath = "/proc/sys/net/ipv4/ip_unprivileged_port_start"

func TestNetPrivilegedPorts(t *testing.T) {
	capRK := func(m *host.Memory, caps string) *host.Memory {
		return m.Exec("/usr/bin/rootlesskit").Meta("/usr/bin/rootlesskit", host.FileMeta{Mode: "0755", Caps: caps})
	}
	runProbeTests(t, netPrivilegedPorts, []probeTest{
		{name: "default 1024", host: alice().File(portPath, "1024\n"), status: finding.Warn, summary: "ports below 1024 cannot be published", fixes: []string{"sysctl.net.ipv4.ip_unprivileged_port_start"}},
		{name: "0", host: alice().File(portPath, "0\n"), status: finding.Pass, summary: "every port", fixes: []string{}},
		{name: "80", host: alice().File(portPath, "80\n"), status: finding.Pass, summary: "ports from 80 up"},
		{name: "443", host: alice().File(portPath, "443\n"), status: finding.Warn, summary: "ports below 443"},
		{name: "1024, rootlesskit has the capability", host: capRK(alice().File(portPath, "1024\n"), "cap_net_bind_service=ep"), status: finding.Pass, summary: "has cap_net_bind_service"},
		{name: "1024, rootlesskit capability only inheritable", host: capRK(alice().File(portPath, "1024\n"), "cap_net_bind_service=i"), status: finding.Warn},
		{name: "1024, rootlesskit with other caps", host: capRK(alice().File(portPath, "1024\n"), "cap_net_admin,cap_net_bind_service+ep"), status: finding.Pass},
		{name: "missing key (kernel < 4.11)", host: alice(), status: finding.Warn, summary: "no net.ipv4.ip_unprivileged_port_start", fixes: []string{}},
		{name: "missing key, rootlesskit capable", host: capRK(alice(), "cap_net_bind_service=ep"), status: finding.Pass},
		{name: "garbage", host: alice().File(portPath, "lots\n"), status: finding.Warn, summary: "could not check: cannot parse"},
		{name: "negative", host: alice().File(portPath, "-1\n"), status: finding.Warn, summary: "could not check"},
		{name: "unreadable", host: alice().File(portPath, "0").Meta(portPath, host.FileMeta{Mode: "0000"}), status: finding.Warn, summary: "could not check"},
	})
}

func TestNetPrivilegedPortsDetails(t *testing.T) {
	r := result(t, netPrivilegedPorts, alice().File(portPath, "1024\n"), "")
	if !netHasDetail(r, "setcap cap_net_bind_service=ep $(which rootlesskit)") {
		t.Errorf("no setcap alternative: %q", r.Details)
	}
	if len(r.Intents) != 1 || !r.Intents[0].Optional || r.Intents[0].Value != "0" {
		t.Errorf("intent = %+v, want an optional sysctl to 0", r.Intents)
	}
	for caps, want := range map[string]bool{
		"cap_net_bind_service=ep":               true,
		"cap_net_bind_service+ep":               true,
		"cap_net_admin,cap_net_bind_service=ep": true,
		"cap_net_bind_service=p":                false,
		"cap_net_bind_service=ep-e":             false,
		"cap_setuid=ep":                         false,
		"":                                      false,
		"=":                                     false,
	} {
		if got := capGrantsEP(caps, "cap_net_bind_service"); got != want {
			t.Errorf("capGrantsEP(%q) = %v, want %v", caps, got, want)
		}
	}
}
