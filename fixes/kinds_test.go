package fixes

import (
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// TestKinds: every kind of finding has an entry in the table, with its stable intent id and a
// description, in plan order.
func TestKinds(t *testing.T) {
	tests := []struct {
		in finding.Intent
		id string
	}{
		{finding.InstallTool("slirp4netns", "r"), "package.slirp4netns"},
		{finding.LoadModule("tun", "r"), "module.tun"},
		{finding.SetSysctl("user.max_user_namespaces", "28633", "r"), "sysctl.user.max_user_namespaces"},
		{finding.StripCR("/etc/subuid", "r"), "crlf.subuid"},
		{finding.AddSubIDs("alice", "uid", 65536, nil, "r"), "subid.add"},
		{finding.AppArmorProfile("/usr/local/bin/rootlesskit", "r"), "apparmor.usr.local.bin.rootlesskit"},
		{finding.DelegateControllers([]string{"cpu"}, "r"), "systemd.delegate"},
		{finding.DeviceMode("/dev/net/tun", "0666", "r"), "device.tun"},
		{finding.EnableLinger("alice", "r"), "linger.enable"},
		{finding.SetUserTOML("alice", "/home/alice/.config/containers/containers.conf.d/60-rootless-doctor.conf", "engine.runtime", "runc", "r"), "userfile.engine.runtime"},
		{finding.ManualStep("upgrade-kernel", "r"), "manual.upgrade-kernel"},
		{finding.AskRelogin("r"), "session.relogin"},
	}
	last := -1
	for _, tt := range tests {
		if got := IntentID(tt.in); got != tt.id {
			t.Errorf("%+v: ID = %q, want %q", tt.in, got, tt.id)
		}
		if Describe(tt.in) == "" {
			t.Errorf("%s: empty description", tt.id)
		}
		// The table is in plan order: each kind ranks after the one before.
		if o := order(tt.in.Kind); o < last || o >= len(kinds) {
			t.Errorf("%s: order %d after %d", tt.id, o, last)
		} else {
			last = o
		}
	}
	if len(tests) != len(kinds) || len(Kinds()) != len(kinds) {
		t.Errorf("%d kinds in the table, %d tested", len(kinds), len(tests))
	}
	// A kind may have more than one id: SubIDs that only deduplicate (issue 10).
	if got := IntentID(finding.DedupeSubIDs("alice", "uid", []string{"100000-165535"}, "r")); got != "subid.dedupe" {
		t.Errorf("DedupeSubIDs: ID = %q, want subid.dedupe", got)
	}
	if o := finding.SetSysctl("net.ipv4.ping_group_range", "0 2147483647", "r").Optionally(); !o.Optional {
		t.Error("Optionally must mark the intent optional")
	}
}
