package parse

import (
	"slices"
	"strings"
	"testing"
)

func TestParseConf(t *testing.T) {
	in := "# comment\n; also\n[Login]\nKillUserProcesses=yes\n  KillExcludeUsers = root alice  \n[Other]\nKillUserProcesses=no\n"
	opts, err := ParseConf([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := ConfValues(opts, "Login", "KillUserProcesses"); !slices.Equal(got, []string{"yes"}) {
		t.Errorf("KillUserProcesses = %q", got)
	}
	if got := ConfValues(opts, "Login", "KillExcludeUsers"); !slices.Equal(got, []string{"root alice"}) {
		t.Errorf("KillExcludeUsers = %q", got)
	}

	// A bad line stops go-systemd's parser; what came before it is kept.
	opts, err = ParseConf([]byte("[Login]\nKillUserProcesses=yes\nthis line has no equals sign\nKillOnlyUsers=bob\n"))
	if err == nil {
		t.Error("want an error for a line without '='")
	}
	if got := ConfValues(opts, "Login", "KillUserProcesses"); !slices.Equal(got, []string{"yes"}) {
		t.Errorf("options before the bad line = %q", got)
	}

	if _, err := ParseConf([]byte("[Login]\nKillOnlyUsers=" + strings.Repeat("a", 5000) + "\n")); err == nil {
		t.Error("want an error for an over-long line")
	}
}

func TestParseSystemdBool(t *testing.T) {
	for _, s := range []string{"1", "yes", "Y", "true", "t", "ON", " on "} {
		if b, err := ParseSystemdBool(s); err != nil || !b {
			t.Errorf("ParseSystemdBool(%q) = %v, %v", s, b, err)
		}
	}
	for _, s := range []string{"0", "no", "n", "FALSE", "f", "off"} {
		if b, err := ParseSystemdBool(s); err != nil || b {
			t.Errorf("ParseSystemdBool(%q) = %v, %v", s, b, err)
		}
	}
	for _, s := range []string{"", "maybe", "yes # comment", "2"} {
		if _, err := ParseSystemdBool(s); err == nil {
			t.Errorf("ParseSystemdBool(%q): want an error", s)
		}
	}
}

func TestLogindKill(t *testing.T) {
	type file struct{ name, data string }
	tests := []struct {
		name     string
		files    []file
		user     string
		kills    bool
		problems int
	}{
		{name: "no files", user: "alice", kills: false},
		{name: "default Debian file, all commented", files: []file{{"/etc/systemd/logind.conf", "[Login]\n#KillUserProcesses=no\n#KillOnlyUsers=\n#KillExcludeUsers=root\n"}}, user: "alice"},
		{name: "explicit yes", files: []file{{"/etc/systemd/logind.conf", "[Login]\nKillUserProcesses=yes\n"}}, user: "alice", kills: true},
		{name: "root excluded by default", files: []file{{"/etc/systemd/logind.conf", "[Login]\nKillUserProcesses=yes\n"}}, user: "root"},
		{name: "drop-in turns it off", files: []file{
			{"/etc/systemd/logind.conf", "[Login]\nKillUserProcesses=yes\n"},
			{"/etc/systemd/logind.conf.d/10-no.conf", "[Login]\nKillUserProcesses=no\n"},
		}, user: "alice"},
		{name: "excluded user", files: []file{{"/etc/systemd/logind.conf", "[Login]\nKillUserProcesses=yes\nKillExcludeUsers=root alice\n"}}, user: "alice"},
		{name: "empty exclude list resets, root killed", files: []file{{"/etc/systemd/logind.conf", "[Login]\nKillUserProcesses=yes\nKillExcludeUsers=\n"}}, user: "root", kills: true},
		{name: "only users, not listed", files: []file{{"/etc/systemd/logind.conf", "[Login]\nKillUserProcesses=yes\nKillOnlyUsers=bob\n"}}, user: "alice"},
		{name: "only users, listed, even with KillUserProcesses=no", files: []file{{"/etc/systemd/logind.conf", "[Login]\nKillOnlyUsers=bob alice\n"}}, user: "alice", kills: true},
		{name: "wrong section", files: []file{{"/etc/systemd/logind.conf", "[Journal]\nKillUserProcesses=yes\n"}}, user: "alice"},
		{name: "bad boolean ignored", files: []file{{"/etc/systemd/logind.conf", "[Login]\nKillUserProcesses=yes # really\n"}}, user: "alice", problems: 1},
		{name: "garbage file", files: []file{{"/etc/systemd/logind.conf", "\x00\xff[[[\nno equals\n"}}, user: "alice", problems: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var k LogindKill
			for _, f := range tt.files {
				k.Apply(f.name, []byte(f.data))
			}
			if got := k.Kills(tt.user); got != tt.kills {
				t.Errorf("Kills(%q) = %v, want %v (%+v)", tt.user, got, tt.kills, k)
			}
			if len(k.Problems) != tt.problems {
				t.Errorf("problems = %q, want %d", k.Problems, tt.problems)
			}
		})
	}
}

func TestDelegation(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   string
		has    map[string]bool
	}{
		{name: "unset", want: "(not set)", has: map[string]bool{"memory": false}},
		{name: "upstream before 252", values: []string{"pids memory"}, want: "pids memory", has: map[string]bool{"memory": true, "cpu": false}},
		{name: "drop-in adds", values: []string{"pids memory cpu", "cpu cpuset io memory pids"}, want: "pids memory cpu cpuset io",
			has: map[string]bool{"cpuset": true, "io": true}},
		{name: "yes is all", values: []string{"pids memory", "yes"}, want: "yes", has: map[string]bool{"cpuset": true, "io": true}},
		{name: "no turns off", values: []string{"yes", "no"}, want: "no", has: map[string]bool{"memory": false}},
		{name: "empty resets to on with none", values: []string{"cpu", ""}, want: "(no controllers)", has: map[string]bool{"cpu": false}},
		{name: "unknown names dropped", values: []string{"memory +bogus Pids"}, want: "memory", has: map[string]bool{"memory": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Delegation
			for _, v := range tt.values {
				d.Apply(v)
			}
			if d.String() != tt.want {
				t.Errorf("String() = %q, want %q", d.String(), tt.want)
			}
			for c, want := range tt.has {
				if d.Has(c) != want {
					t.Errorf("Has(%q) = %v, want %v", c, d.Has(c), want)
				}
			}
		})
	}
}

func FuzzLogindKill(f *testing.F) {
	f.Add([]byte("[Login]\nKillUserProcesses=yes\nKillExcludeUsers=root\n"), "alice")
	f.Add([]byte("[Login]\nKillOnlyUsers=alice\n"), "alice")
	f.Add([]byte("[Login\n=\n"), "root")
	f.Fuzz(func(t *testing.T, data []byte, user string) {
		var k LogindKill
		k.Apply("f", data)
		kills := k.Kills(user)
		// Invariants of manager_shall_kill: an excluded user is never killed; with no
		// KillOnlyUsers and no KillUserProcesses=yes nobody is.
		if kills && slices.Contains(k.KillExcludeUsers, user) {
			t.Fatalf("excluded user %q killed: %+v", user, k)
		}
		if kills && len(k.KillOnlyUsers) == 0 && (k.KillUserProcesses == nil || !*k.KillUserProcesses) {
			t.Fatalf("user %q killed without a setting: %+v", user, k)
		}
		opts, _ := ParseConf(data)
		for _, o := range opts {
			if o.Section == "" {
				t.Fatalf("option %+v outside any section", o)
			}
		}
	})
}

func FuzzDelegation(f *testing.F) {
	f.Add("pids memory", "cpu cpuset io")
	f.Add("yes", "")
	f.Fuzz(func(t *testing.T, a, b string) {
		var d Delegation
		d.Apply(a)
		d.Apply(b)
		if !d.Set {
			t.Fatal("Set is false after Apply")
		}
		if d.All && !d.On {
			t.Fatalf("All without On: %+v", d)
		}
		for _, c := range d.Controllers {
			if !validController(c) || !d.Has(c) {
				t.Fatalf("controller %q invalid or not reported: %+v", c, d)
			}
		}
		if d.String() == "" {
			t.Fatal("empty String()")
		}
	})
}

func TestNoNewPrivs(t *testing.T) {
	for _, tt := range []struct {
		name   string
		files  []string
		set    bool
		causes []string
	}{
		{"none", []string{"[Service]\nExecStart=/usr/bin/podman run x\n"}, false, nil},
		{"explicit", []string{"[Service]\nNoNewPrivileges=true\n"}, true, []string{"NoNewPrivileges=yes"}},
		{"explicit off", []string{"[Service]\nNoNewPrivileges=no\n"}, false, nil},
		{"drop-in turns it off", []string{"[Service]\nNoNewPrivileges=yes\n", "[Service]\nNoNewPrivileges=no\n"}, false, nil},
		{"empty resets", []string{"[Service]\nNoNewPrivileges=yes\nNoNewPrivileges=\n"}, false, nil},
		{"other section", []string{"[Unit]\nNoNewPrivileges=yes\n[Install]\nSystemCallFilter=@system-service\n"}, false, nil},
		{"implied by a filter", []string{"[Service]\nSystemCallFilter=@system-service\n"}, true, []string{"SystemCallFilter=@system-service"}},
		{"implied, NoNewPrivileges=no does not undo it", []string{"[Service]\nNoNewPrivileges=no\nProtectKernelTunables=yes\n"}, true, []string{"ProtectKernelTunables=yes"}},
		{"list reset in a drop-in", []string{"[Service]\nRestrictAddressFamilies=AF_UNIX\n", "[Service]\nRestrictAddressFamilies=\n"}, false, nil},
		{"boolean turned off", []string{"[Service]\nPrivateDevices=yes\nPrivateDevices=false\n"}, false, nil},
		{"restrict namespaces list", []string{"[Service]\nRestrictNamespaces=user mnt\n"}, true, []string{"RestrictNamespaces=user mnt"}},
		{"restrict namespaces no", []string{"[Service]\nRestrictNamespaces=no\n"}, false, nil},
		{"protect hostname private", []string{"[Service]\nProtectHostname=private\n"}, true, []string{"ProtectHostname=private"}},
		{"several, sorted", []string{"[Service]\nNoNewPrivileges=yes\nLockPersonality=yes\nMemoryDenyWriteExecute=yes\n"}, true,
			[]string{"NoNewPrivileges=yes", "LockPersonality=yes", "MemoryDenyWriteExecute=yes"}},
		{"garbage boolean is ignored", []string{"[Service]\nPrivateDevices=maybe\n"}, false, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var n NoNewPrivs
			for _, f := range tt.files {
				opts, _ := ParseConf([]byte(f))
				n.Apply(opts)
			}
			if n.Set() != tt.set || !slices.Equal(n.Causes(), tt.causes) {
				t.Errorf("Set() = %v, Causes() = %q; want %v, %q", n.Set(), n.Causes(), tt.set, tt.causes)
			}
		})
	}
}

func FuzzNoNewPrivs(f *testing.F) {
	f.Add([]byte("[Service]\nNoNewPrivileges=yes\nSystemCallFilter=@system-service\n"), []byte("[Service]\nNoNewPrivileges=\n"))
	f.Add([]byte("[Service]\nRestrictNamespaces=user\n"), []byte(""))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var n NoNewPrivs
		for _, data := range [][]byte{a, b} {
			opts, _ := ParseConf(data)
			n.Apply(opts)
		}
		causes := n.Causes()
		if n.Set() != (len(causes) > 0) {
			t.Fatalf("Set() = %v with causes %q", n.Set(), causes)
		}
		for _, c := range causes {
			if len(c) > 200 {
				t.Fatalf("cause not clipped: %d bytes", len(c))
			}
		}
	})
}
