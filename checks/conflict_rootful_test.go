package checks

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// dockerGroupHost is alice in the docker group (999), with bob outside it.
func dockerGroupHost() *host.Memory {
	return alice().
		File("/etc/group", "root:x:0:\nalice:x:1000:\nbob:x:1001:\ndocker:x:999:alice\n").
		Env("XDG_RUNTIME_DIR", "/run/user/1000")
}

// rootfulSocket adds a rootful dockerd socket at p, root:docker 0660.
func rootfulSocket(m *host.Memory, p string) *host.Memory {
	return m.Meta(p, host.FileMeta{Type: "socket", Mode: "0660", UID: host.Int(0), GID: host.Int(999)})
}

// dockerContext adds a docker CLI context named name with endpoint h to alice's ~/.docker.
func dockerContext(m *host.Memory, name, h string) *host.Memory {
	sum := sha256.Sum256([]byte(name))
	return m.File("/home/alice/.docker/config.json", `{"auths":{},"currentContext":"`+name+`"}`).
		File("/home/alice/.docker/contexts/meta/"+hex.EncodeToString(sum[:])+"/meta.json",
			`{"Name":"`+name+`","Metadata":{},"Endpoints":{"docker":{"Host":"`+h+`","SkipTLSVerify":false}}}`)
}

func TestConflictRootful(t *testing.T) {
	root := host.Identity{UID: 0, GID: 0, Name: "root"}
	rootless := "unix:///run/user/1000/docker.sock"
	runProbeTests(t, conflictRootful, []probeTest{
		{name: "nothing rootful", host: dockerGroupHost(), status: finding.Pass, summary: "no rootful Docker daemon is reachable by alice"},
		// docs/failures/catalogue.json#docker-host-endpoint-mismatch
		{name: "rootless Docker set up, CLI left on the default", host: dockerGroupHost().File("/home/alice/.config/systemd/user/docker.service", "[Service]\nExecStart=/usr/bin/dockerd-rootless.sh\n"),
			status: finding.Warn, summary: "docker commands go to /var/run/docker.sock, where no daemon listens", fixes: []string{"manual.docker-context"}},
		{name: "rootless Docker set up, DOCKER_HOST right", host: dockerGroupHost().File("/home/alice/.config/systemd/user/docker.service", "[Service]\nExecStart=/usr/bin/dockerd-rootless.sh\n").
			Env("DOCKER_HOST", rootless), status: finding.Pass},
		{name: "stale DOCKER_HOST of another account", host: dockerGroupHost().Env("DOCKER_HOST", "unix:///run/user/0/docker.sock"), status: finding.Warn,
			summary: "DOCKER_HOST=unix:///run/user/0/docker.sock", fixes: []string{"manual.docker-host"}},
		{name: "rootful socket, alice in docker group, no DOCKER_HOST", host: rootfulSocket(dockerGroupHost(), "/var/run/docker.sock"), status: finding.Warn,
			summary: "docker commands go to the rootful daemon at /var/run/docker.sock", fixes: []string{"manual.disable-rootful-docker"}},
		{name: "rootful socket at /run only", host: rootfulSocket(dockerGroupHost(), "/run/docker.sock"), status: finding.Warn, summary: "rootful daemon at /run/docker.sock"},
		{name: "/var/run is a symlink to /run", host: rootfulSocket(dockerGroupHost().Symlink("/var/run", "/run"), "/run/docker.sock"), status: finding.Warn,
			summary: "rootful daemon at /var/run/docker.sock"},
		{name: "rootful socket, bob not in docker group", host: rootfulSocket(dockerGroupHost().Self(host.Identity{UID: 1001, GID: 1001, Name: "bob"}).Dir("/home/bob"), "/var/run/docker.sock"),
			status: finding.Pass, summary: "no rootful Docker daemon is reachable by bob"},
		{name: "a directory where the socket was", host: dockerGroupHost().Dir("/var/run/docker.sock"), status: finding.Pass},
		{name: "rootful socket 0666", host: dockerGroupHost().Meta("/var/run/docker.sock", host.FileMeta{Type: "socket", Mode: "0666"}).
			File("/etc/group", "docker:x:999:\n"), status: finding.Warn, summary: "rootful daemon"},

		// DOCKER_HOST.
		{name: "DOCKER_HOST is the rootless socket", host: dockerGroupHost().Env("DOCKER_HOST", rootless), status: finding.Pass, summary: "docker commands go to the rootless daemon (DOCKER_HOST)"},
		{name: "DOCKER_HOST with a trailing slash runtime dir", host: dockerGroupHost().Env("XDG_RUNTIME_DIR", "/run/user/1000/").Env("DOCKER_HOST", "unix:///run/user/1000//docker.sock"),
			status: finding.Pass, summary: "rootless daemon"},
		{name: "DOCKER_HOST elsewhere", host: dockerGroupHost().Env("DOCKER_HOST", "tcp://build-box:2375"), status: finding.Warn,
			summary: "DOCKER_HOST=tcp://build-box:2375: docker commands go there, not to the rootless daemon at " + rootless, fixes: []string{"manual.docker-host"}},
		{name: "DOCKER_HOST at the rootful socket", host: rootfulSocket(dockerGroupHost(), "/var/run/docker.sock").Env("DOCKER_HOST", "unix:///var/run/docker.sock"), status: finding.Warn,
			summary: "DOCKER_HOST=unix:///var/run/docker.sock", fixes: []string{"manual.docker-host", "manual.disable-rootful-docker"}},
		{name: "DOCKER_HOST right but rootful reachable", host: rootfulSocket(dockerGroupHost(), "/var/run/docker.sock").Env("DOCKER_HOST", rootless), status: finding.Warn,
			summary: "a rootful Docker daemon is reachable at /var/run/docker.sock: docker commands may talk to it instead of the rootless one", fixes: []string{"manual.disable-rootful-docker"}},
		{name: "no XDG_RUNTIME_DIR: /run/user/UID", host: alice().Env("DOCKER_HOST", rootless), status: finding.Pass, summary: "rootless daemon"},

		// docker contexts.
		{name: "rootless context", host: dockerContext(dockerGroupHost(), "rootless", rootless), status: finding.Pass, summary: "docker commands go to the rootless daemon (rootless)"},
		{name: "context at the rootful socket", host: dockerContext(dockerGroupHost(), "work", "unix:///var/run/docker.sock"), status: finding.Warn,
			summary: "the docker context work points at unix:///var/run/docker.sock", fixes: []string{"manual.docker-context"}},
		{name: "DOCKER_CONTEXT overrides config.json", host: dockerContext(dockerGroupHost(), "rootless", rootless).Env("DOCKER_CONTEXT", "default"), status: finding.Pass,
			summary: "no rootful Docker daemon is reachable"},
		{name: "DOCKER_HOST overrides the context", host: dockerContext(dockerGroupHost(), "work", "tcp://x:2375").Env("DOCKER_HOST", rootless), status: finding.Pass, summary: "(DOCKER_HOST)"},
		{name: "DOCKER_CONFIG", host: dockerGroupHost().Env("DOCKER_CONFIG", "/cfg/docker").File("/cfg/docker/config.json", `{"currentContext":"gone"}`), status: finding.Pass},
		{name: "context selected but its meta is missing", host: dockerGroupHost().File("/home/alice/.docker/config.json", `{"currentContext":"gone"}`), status: finding.Pass},
		{name: "garbage config.json", host: rootfulSocket(dockerGroupHost(), "/var/run/docker.sock").File("/home/alice/.docker/config.json", "\x00{"), status: finding.Warn,
			summary: "a rootful Docker daemon is reachable"},
		{name: "default context named", host: rootfulSocket(dockerGroupHost(), "/var/run/docker.sock").File("/home/alice/.docker/config.json", `{"currentContext":"default"}`),
			status: finding.Warn, summary: "docker commands go to the rootful daemon"},

		// On behalf of another account.
		{name: "root --user alice, rootful reachable", host: rootfulSocket(dockerGroupHost().Self(root), "/var/run/docker.sock"), user: "alice", status: finding.Warn,
			summary: "a rootful Docker daemon is reachable at /var/run/docker.sock"},
		{name: "root --user alice ignores root's DOCKER_HOST", host: dockerGroupHost().Self(root).Env("DOCKER_HOST", "tcp://x:1"), user: "alice", status: finding.Pass},
		{name: "root --user alice with a rootless context", host: dockerContext(dockerGroupHost().Self(root), "rootless", rootless), user: "alice", status: finding.Pass, summary: "rootless daemon (rootless)"},
		{name: "unknown account", host: dockerGroupHost().Self(root), user: "mallory", status: finding.Skip},
	})
}

func TestConflictRootfulDetails(t *testing.T) {
	r := runForResult(t, conflictRootful, rootfulSocket(dockerGroupHost(), "/var/run/docker.sock").
		Meta("/run/containerd/containerd.sock", host.FileMeta{Type: "socket", Mode: "0660"}).Exec("/usr/bin/dockerd"), "")
	wantDetailsContain(t, r, "rootful containerd listens at /run/containerd/containerd.sock", "dockerd is installed but dockerd-rootless.sh is not",
		"dockerd-rootless-setuptool.sh refuses to install")
	if len(r.Evidence) == 0 || r.Evidence[0].Source != "/var/run/docker.sock" || r.Evidence[0].Value != "socket mode 0660 owner 0:999" {
		t.Errorf("evidence = %+v", r.Evidence)
	}

	r = runForResult(t, conflictRootful, dockerGroupHost().Exec("/usr/bin/dockerd").Exec("/usr/share/docker.io/contrib/dockerd-rootless.sh"), "")
	wantDetailsContain(t, r, "dockerd-rootless.sh is at /usr/share/docker.io/contrib/dockerd-rootless.sh")

	r = runForResult(t, conflictRootful, dockerGroupHost().Exec("/usr/bin/dockerd").Exec("/usr/bin/dockerd-rootless.sh"), "")
	for _, d := range r.Details {
		if strings.Contains(d, "dockerd-rootless.sh is not") || strings.Contains(d, "dockerd-rootless.sh is at") {
			t.Errorf("unexpected tooling detail %q", d)
		}
	}

	r = runForResult(t, conflictRootful, rootfulSocket(dockerGroupHost().Symlink("/var/run", "/run"), "/run/docker.sock"), "")
	if len(r.Evidence) != 1 {
		t.Errorf("the same socket twice in evidence: %+v", r.Evidence)
	}

	r = runForResult(t, conflictRootful, dockerGroupHost(), "")
	wantDetailsContain(t, r, "DOCKER_HOST is unset and no docker context is selected")
}
