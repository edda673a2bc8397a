package facts

import (
	"context"
	"testing"
	"time"

	"github.com/rootless-doctor/rootless-doctor/host"
)

func alice() *host.Memory {
	return host.NewMemory().
		File("/etc/passwd", "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n").
		Dir("/home/alice").Self(host.Identity{UID: 1000, GID: 1000, Name: "alice"})
}

const unitDir = "/home/alice/.config/systemd/user"

func TestUserUnit(t *testing.T) {
	m := alice().
		File("/usr/lib/systemd/user/docker.service", "[Service]\nExecStart=/usr/bin/dockerd-rootless.sh\nEnvironment=A=dist\n").
		File(unitDir+"/docker.service", "[Service]\nEnvironment=PATH=/home/alice/bin:/usr/bin A=mine\nExecStart=/home/alice/bin/dockerd-rootless.sh\n").
		File(unitDir+"/docker.service.d/10-net.conf", "[Service]\nEnvironment=DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta\n").
		File("/etc/systemd/user/docker.service.d/20-exec.conf", "[Service]\nExecStart=\nExecStart=/opt/docker/dockerd-rootless.sh --debug\n").
		File("/etc/systemd/user/docker.service.d/10-net.conf", "[Service]\nEnvironment=DOCKERD_ROOTLESS_ROOTLESSKIT_NET=vpnkit\n")
	e := NewEnv(context.Background(), m.Host(), "")
	u := e.UserUnit("docker.service")
	if u.Main != unitDir+"/docker.service" {
		t.Errorf("main = %q: the account's unit hides the distribution's", u.Main)
	}
	if u.Env["DOCKERD_ROOTLESS_ROOTLESSKIT_NET"] != "pasta" || u.EnvFrom["DOCKERD_ROOTLESS_ROOTLESSKIT_NET"] != unitDir+"/docker.service.d/10-net.conf" {
		t.Errorf("the account's 10-net.conf hides /etc's: %v from %v", u.Env, u.EnvFrom)
	}
	if u.Env["A"] != "mine" || u.Env["PATH"] != "/home/alice/bin:/usr/bin" {
		t.Errorf("env = %v", u.Env)
	}
	if len(u.ExecStart) != 2 || u.ExecStart[0] != "/opt/docker/dockerd-rootless.sh" || u.ExecStartFrom != "/etc/systemd/user/docker.service.d/20-exec.conf" {
		t.Errorf("ExecStart = %q from %s: the drop-in resets and replaces it", u.ExecStart, u.ExecStartFrom)
	}
	if none := e.UserUnit("buildkit.service"); none.Main != "" || len(none.Files) != 0 || none.ExecStart != nil {
		t.Errorf("a unit that does not exist: %+v", none)
	}
}

func TestDockerRootless(t *testing.T) {
	script := func(m *host.Memory, p, text string) *host.Memory {
		return m.File(p, text).Meta(p, host.FileMeta{Mode: "0755"})
	}
	detach := ": \"${DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS:=true}\"\n"
	slirp := func(m *host.Memory) *host.Memory {
		return m.Exec("/usr/bin/slirp4netns").Command([]string{"slirp4netns", "--version"}, "slirp4netns version 1.2.0\n", 0)
	}
	tests := []struct {
		name      string
		host      *host.Memory
		script    string
		installed bool
		sandbox   bool
	}{
		{"nothing", alice(), "", false, false},
		{"the unit's script wins over PATH", script(script(slirp(alice()), "/usr/bin/dockerd-rootless.sh", detach), "/home/alice/bin/dockerd-rootless.sh", "").
			File(unitDir+"/docker.service", "[Service]\nExecStart=/home/alice/bin/dockerd-rootless.sh\n"), "/home/alice/bin/dockerd-rootless.sh", true, true},
		{"PATH, Docker 29.5 script", script(slirp(alice()), "/usr/bin/dockerd-rootless.sh", detach), "/usr/bin/dockerd-rootless.sh", true, false},
		{"Debian's docker.io keeps it off PATH", script(slirp(alice()), DebianRootlessScript, ""), DebianRootlessScript, true, true},
		{"dockerd without the script", slirp(alice()).Exec("/usr/bin/dockerd"), "", true, false},
		{"sandbox asked for under detach", script(slirp(alice()), "/usr/bin/dockerd-rootless.sh", detach).
			File(unitDir+"/docker.service.d/o.conf", "[Service]\nEnvironment=DOCKERD_ROOTLESS_ROOTLESSKIT_SLIRP4NETNS_SANDBOX=true\n"), "/usr/bin/dockerd-rootless.sh", true, true},
		{"old script, pasta asked for", script(slirp(alice()), "/usr/bin/dockerd-rootless.sh", "").
			File(unitDir+"/docker.service.d/o.conf", "[Service]\nEnvironment=DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta\n"), "/usr/bin/dockerd-rootless.sh", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEnv(context.Background(), tt.host.Host(), "")
			d := e.DockerRootless()
			on, why := e.SlirpSandbox(context.Background())
			if d.Script != tt.script || d.Installed() != tt.installed || on != tt.sandbox {
				t.Errorf("script %q installed %v sandbox %v (%s)", d.Script, d.Installed(), on, why)
			}
		})
	}
}

// TestDockerRootlessRelativeHome: an account whose home is not absolute must not send the
// data root's walk up the tree into a loop (path.Dir of a relative path ends at ".").
func TestDockerRootlessRelativeHome(t *testing.T) {
	m := host.NewMemory().File("/etc/passwd", "alice:x:1000:1000::home/alice:/bin/sh\n").Self(host.Identity{UID: 1000, GID: 1000, Name: "alice"})
	done := make(chan DataRoot, 1)
	go func() { done <- NewEnv(context.Background(), m.Host(), "").DockerDataRoot() }()
	select {
	case d := <-done:
		if d.StatErr == nil {
			t.Errorf("a relative data root was located: %+v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("DockerDataRoot did not return for a relative home")
	}
}
