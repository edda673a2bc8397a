package fixes

import (
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks"
	"github.com/rootless-doctor/rootless-doctor/fixes/intent"
)

func TestRequestsFrom(t *testing.T) {
	tun := intent.DeviceMode("/dev/net/tun", "0666", "r")
	results := []checks.Result{
		{ID: "net.tun", Status: checks.Fail, Intents: []intent.Intent{tun}},
		{ID: "net.ping", Status: checks.Warn, Intents: []intent.Intent{intent.SetSysctl("net.ipv4.ping_group_range", "0 2147483647", "r").Optionally()}},
		{ID: "idmap.subuid", Status: checks.Pass, Intents: []intent.Intent{intent.AddSubIDs("alice", "uid", 65536, nil, "r")}},
		{ID: "session.linger", Status: checks.Skip, Intents: []intent.Intent{intent.EnableLinger("alice", "r")}},
	}
	got := RequestsFrom(results)
	if len(got) != 2 || got[0].ProbeID != "net.tun" || got[0].Intent.ID() != tun.ID() || got[1].ProbeID != "net.ping" {
		t.Fatalf("requests = %+v; want the fail and the warn only, in order", got)
	}
}
