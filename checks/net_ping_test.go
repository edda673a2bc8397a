package checks

import (
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

const pingPath = "/proc/sys/net/ipv4/ping_group_range"

func TestNetPing(t *testing.T) {
	runProbeTests(t, netPing, []probeTest{
		{name: "systemd default", host: alice().File(pingPath, "0\t2147483647\n"), status: finding.Pass, summary: "includes gid 1000 of alice", fixes: []string{}},
		{name: "kernel default 1 0", host: alice().File(pingPath, "1\t0\n"), status: finding.Warn, summary: "allows no group", fixes: []string{"sysctl.net.ipv4.ping_group_range"}},
		{name: "range excludes alice", host: alice().File(pingPath, "2000\t3000\n"), status: finding.Warn, summary: "no group of alice (gid 1000)", fixes: []string{"sysctl.net.ipv4.ping_group_range"}},
		{name: "supplementary group in range", host: alice().File(pingPath, "100\t999\n"), status: finding.Pass, summary: "includes gid 104 of alice"},
		{name: "disabled, unknown account", host: alice().File(pingPath, "1\t0\n"), user: "mallory", status: finding.Warn, summary: "allows no group"},
		{name: "enabled, unknown account", host: alice().File(pingPath, "0\t2147483647\n"), user: "mallory", status: finding.Skip},
		{name: "missing key", host: alice(), status: finding.Warn, summary: "could not check"},
		{name: "garbage", host: alice().File(pingPath, "\x00\xffbanana\n"), status: finding.Warn, summary: "could not check: cannot parse"},
		{name: "huge", host: alice().File(pingPath, strings.Repeat("7", 1<<20)), status: finding.Warn, summary: "could not check"},
		{name: "unreadable", host: alice().File(pingPath, "0 1").Meta(pingPath, host.FileMeta{Mode: "0000"}), status: finding.Warn, summary: "could not check"},
	})
}

func TestNetPingSubGIDs(t *testing.T) {
	h := alice().File(pingPath, "0\t65535\n").File("/etc/subgid", "# comment\nalice:100000:65536\n")
	r := result(t, netPing, h, "")
	if r.Status != finding.Pass || !netHasDetail(r, "100000–165535") {
		t.Errorf("subgids outside the range: %s %q %q", r.Status, r.Summary, r.Details)
	}
	r = result(t, netPing, alice().File(pingPath, "0\t2147483647\n").File("/etc/subgid", "1000:100000:65536\n"), "")
	if netHasDetail(r, "subordinate") {
		t.Errorf("subgids inside the range reported: %q", r.Details)
	}
	r = result(t, netPing, alice().File(pingPath, "0\t2147483647\n").File("/etc/subgid", "garbage::\n"), "")
	if r.Status != finding.Pass {
		t.Errorf("garbage /etc/subgid: %s %q", r.Status, r.Summary)
	}
	r = result(t, netPing, alice().File(pingPath, "1\t0\n"), "")
	if len(r.Intents) != 1 || !r.Intents[0].Optional || r.Intents[0].Value != "0 2147483647" {
		t.Errorf("intent = %+v, want an optional sysctl to 0 2147483647", r.Intents)
	}
}
