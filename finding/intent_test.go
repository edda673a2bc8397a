package finding

import "testing"

func TestIDsAndOrder(t *testing.T) {
	tests := []struct {
		in Intent
		id string
	}{
		{InstallTool("slirp4netns", "r"), "package.slirp4netns"},
		{LoadModule("tun", "r"), "module.tun"},
		{SetSysctl("user.max_user_namespaces", "28633", "r"), "sysctl.user.max_user_namespaces"},
		{StripCR("/etc/subuid", "r"), "crlf.subuid"},
		{AddSubIDs("alice", "uid", 65536, nil, "r"), "subid.add"},
		{AppArmorProfile("/usr/local/bin/rootlesskit", "r"), "apparmor.usr.local.bin.rootlesskit"},
		{DelegateControllers([]string{"cpu"}, "r"), "systemd.delegate"},
		{DeviceMode("/dev/net/tun", "0666", "r"), "device.tun"},
		{EnableLinger("alice", "r"), "linger.enable"},
		{ManualStep("upgrade-kernel", "r"), "manual.upgrade-kernel"},
		{AskRelogin("r"), "session.relogin"},
	}
	last := -1
	for _, tt := range tests {
		if got := tt.in.ID(); got != tt.id {
			t.Errorf("%+v: ID = %q, want %q", tt.in, got, tt.id)
		}
		if tt.in.String() == "" {
			t.Errorf("%s: empty description", tt.id)
		}
		// The table is in plan order: each kind ranks after the one before.
		if o := tt.in.Kind.Order(); o < last {
			t.Errorf("%s: order %d after %d", tt.id, o, last)
		} else {
			last = o
		}
	}
	if o := SetSysctl("net.ipv4.ping_group_range", "0 2147483647", "r").Optionally(); !o.Optional {
		t.Error("Optionally must mark the intent optional")
	}
}
