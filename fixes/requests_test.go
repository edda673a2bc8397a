package fixes

import (
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

func TestRequestsFrom(t *testing.T) {
	tun := finding.DeviceMode("/dev/net/tun", "0666", "r")
	results := []finding.Result{
		{ID: "net.tun", Status: finding.Fail, Intents: []finding.Intent{tun}},
		{ID: "net.ping", Status: finding.Warn, Intents: []finding.Intent{finding.SetSysctl("net.ipv4.ping_group_range", "0 2147483647", "r").Optionally()}},
		{ID: "idmap.subuid", Status: finding.Pass, Intents: []finding.Intent{finding.AddSubIDs("alice", "uid", 65536, nil, "r")}},
		{ID: "session.linger", Status: finding.Skip, Intents: []finding.Intent{finding.EnableLinger("alice", "r")}},
	}
	got := RequestsFrom(results)
	if len(got) != 2 || got[0].ProbeID != "net.tun" || IntentID(got[0].Intent) != IntentID(tun) || got[1].ProbeID != "net.ping" {
		t.Fatalf("requests = %+v; want the fail and the warn only, in order", got)
	}
}
