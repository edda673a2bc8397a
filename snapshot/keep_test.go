package snapshot

import (
	"context"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/host"
)

func TestKeepFilter(t *testing.T) {
	h := host.NewMemory().
		File("/etc/passwd", "root:$6$hash:0:0:root:/root:/bin/bash\n# comment\nalice:x:1000:1000:Alice Smith,room 4:/home/alice:/bin/bash\n"+
			"bob:x:1001:1001::/home/bob:/bin/sh\nsquatter:x:100500:100500::/:/bin/false\ngarbage\n").
		File("/etc/group", "root:x:0:\nalice:x:1000:\nbob:x:1001:\nkvm:x:104:bob,alice,carol\nwheel:x:10:bob\nhigh:x:100600:bob\n").
		Host()
	e := facts.NewEnv(context.Background(), h, "")
	subuid := []byte("alice:100000:65536\nbob:300000:65536\n")
	subgid := []byte("alice:100000:65536\n")
	f := KeepFilter(e, subuid, subgid)
	tests := []struct{ path, in, want string }{
		{"/etc/passwd", "", "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\nsquatter:x:100500:100500::/:/bin/false\n"},
		{"/etc/group", "", "root:x:0:\nalice:x:1000:\nkvm:x:104:alice\nhigh:x:100600:\n"},
		{"/etc/subuid", "kept:1:2\n", "kept:1:2\n"},
		{"/home/alice/.config/containers/systemd/web.container",
			"[Container]\nImage=nginx\nEnvironment=DB_PASSWORD=hunter2 \\\n  API_KEY=x\nSecret=tok,type=env\n Environment = A=b\n[Service]\nNoNewPrivileges=yes\n",
			"[Container]\nImage=nginx\n[Service]\nNoNewPrivileges=yes\n"},
		{"/etc/systemd/user/docker.service", "[Service]\nEnvironment=DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta\n", "[Service]\nEnvironment=DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta\n"},
		{"/home/alice/.config/systemd/user/docker.service.d/proxy.conf", "[Service]\nEnvironment=HTTP_PROXY=http://alice:s3cret@127.0.0.1:3128\n",
			"[Service]\nEnvironment=HTTP_PROXY=http://REDACTED@127.0.0.1:3128\n"},
	}
	for _, tt := range tests {
		in := []byte(tt.in)
		if tt.in == "" {
			in, _ = h.ReadFile(tt.path)
		}
		if got := string(f(tt.path, in)); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.path, got, tt.want)
		}
	}
	// An unknown --user keeps only root (and the lines in subordinate ranges).
	e = facts.NewEnv(context.Background(), h, "nobody-here")
	data, _ := h.ReadFile("/etc/passwd")
	if got := string(KeepFilter(e, nil, nil)("/etc/passwd", data)); got != "root:x:0:0::/root:/bin/bash\n" {
		t.Errorf("unknown user: %q", got)
	}
}

// TestKeepDpkgStanzas: of dpkg's database a snapshot keeps the stanzas the probes looked up,
// whole, and no other (issue 15: the whole database, 706 KB on a desktop, went into bug
// reports). A multi-arch package keeps every architecture's stanza.
func TestKeepDpkgStanzas(t *testing.T) {
	status := "Package: bash\nStatus: install ok installed\nVersion: 5.2\nDescription: shell\n more text\n\n" +
		"Package: dbus-user-session\r\nStatus: install ok installed\r\nArchitecture: amd64\r\n\r\n" +
		"Package: podman\nStatus: install ok installed\nVersion: 4.3.1+ds1-8+b1\n\n" +
		"Package: dbus-user-session\nStatus: deinstall ok config-files\nArchitecture: i386\n"
	h := host.NewMemory().File("/var/lib/dpkg/status", status).Host()
	e := facts.NewEnv(context.Background(), h, "")
	if v, ok := e.DpkgInstalledVersion("podman"); !ok || v != "4.3.1+ds1-8+b1" {
		t.Fatalf("podman: %q %v", v, ok)
	}
	if installed, found, err := e.DpkgPackageStatus("dbus-user-session"); err != nil || !installed || !found {
		t.Fatalf("dbus-user-session: %v %v %v", installed, found, err)
	}
	got := string(KeepFilter(e, nil, nil)(facts.DpkgStatusPath, []byte(status)))
	want := "Package: dbus-user-session\nStatus: install ok installed\nArchitecture: amd64\n\n" +
		"Package: podman\nStatus: install ok installed\nVersion: 4.3.1+ds1-8+b1\n\n" +
		"Package: dbus-user-session\nStatus: deinstall ok config-files\nArchitecture: i386\n\n"
	if got != want {
		t.Errorf("kept:\n%q\nwant\n%q", got, want)
	}
	// The replay reads the same answers from what was kept.
	e2 := facts.NewEnv(context.Background(), host.NewMemory().File("/var/lib/dpkg/status", got).Host(), "")
	if v, _ := e2.DpkgInstalledVersion("podman"); v != "4.3.1+ds1-8+b1" {
		t.Errorf("replayed podman version %q", v)
	}
	if installed, _, _ := e2.DpkgPackageStatus("dbus-user-session"); !installed {
		t.Error("replayed dbus-user-session not installed")
	}
}

// TestRecordingRedactsProxyPassword: a proxy variable the probes read is recorded without its
// credentials, and the probe still sees the real value.
func TestRecordingRedactsProxyPassword(t *testing.T) {
	rec := NewRecording(host.NewMemory().Env("HTTPS_PROXY", "http://alice:s3cret@proxy:3128").Host())
	if v, _ := rec.LookupEnv("HTTPS_PROXY"); v != "http://alice:s3cret@proxy:3128" {
		t.Errorf("the probe sees %q", v)
	}
	if got := rec.Manifest(RecordOptions{}).Env["HTTPS_PROXY"]; got != "http://REDACTED@proxy:3128" {
		t.Errorf("recorded %q", got)
	}
}
