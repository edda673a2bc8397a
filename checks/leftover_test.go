package checks

import (
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

const pausePID = "/run/user/1000/libpod/tmp/pause.pid"

func TestLeftoverPauseProcess(t *testing.T) {
	pause := func(name, uid, uidMap string) *host.Memory {
		return alice().File(pausePID, "4242\n").
			File("/proc/4242/status", "Name:\t"+name+"\nState:\tS (sleeping)\nUid:\t"+uid+"\t"+uid+"\t"+uid+"\t"+uid+"\n").
			File("/proc/4242/uid_map", uidMap)
	}
	own := "         0       1000          1\n         1     100000      65536\n"
	host0 := "         0          0 4294967295\n"
	runProbeTests(t, leftoverPauseProcess, []probeTest{
		{name: "no pid file", host: alice(), status: finding.Pass, summary: "no pause.pid"},
		{name: "catatonit", host: pause("catatonit", "1000", own), status: finding.Pass, summary: "Podman's pause process"},
		{name: "podman as pause", host: pause("podman", "1000", own), status: finding.Pass},
		{name: "podman renamed as pause", host: pause("podman pause", "1000", own), status: finding.Pass, summary: "Podman's pause process (podman pause)"},
		{name: "pid reused by alice's shell", host: pause("bash", "1000", host0), status: finding.Fail, summary: "cannot set user namespace", fixes: []string{"manual.pause-pid"}},
		{name: "podman outside a namespace", host: pause("podman", "1000", host0), status: finding.Fail, summary: "host's user namespace"},
		{name: "pid reused by another account", host: pause("sshd", "0", host0), status: finding.Warn, summary: "uid 0"},
		{name: "dead pid", host: alice().File(pausePID, "4242"), status: finding.Warn, summary: "no longer running", fixes: []string{"manual.pause-pid"}},
		{name: "garbage pid file", host: alice().File(pausePID, "\x00\xffnope"), status: finding.Warn, summary: "does not hold a pid"},
		{name: "huge pid file", host: alice().File(pausePID, strings.Repeat("9", 1<<20)), status: finding.Warn},
		{name: "status without Uid", host: alice().File(pausePID, "4242").File("/proc/4242/status", "Name:\tcatatonit\n"), status: finding.Warn, summary: "cannot tell"},
		{name: "unreadable pid file", host: alice().File(pausePID, "4242").Meta(pausePID, host.FileMeta{Mode: "0000", UID: host.Int(0)}), status: finding.Warn, summary: "could not check"},
		{name: "unknown account", host: alice(), user: "mallory", status: finding.Skip},
	})
}

const crState = "/run/user/1000/containerd-rootless"

func TestLeftoverRuntimeState(t *testing.T) {
	unit := "/home/alice/.config/systemd/user/docker.service"
	docker := func() *host.Memory {
		return alice().File(unit, "[Service]\nExecStart=/home/alice/bin/dockerd-rootless.sh\n").
			File("/home/alice/bin/dockerd-rootless.sh", "#!/bin/sh\n").Meta("/home/alice/bin/dockerd-rootless.sh", host.FileMeta{Mode: "0755"})
	}
	refuses := "#!/bin/sh\nif [ -e \"$XDG_RUNTIME_DIR/containerd-rootless\" ]; then\n\techo \"[ERROR] dockerd-rootless.sh conflicts with containerd-rootless.sh. Stop containerd-rootless.sh if it's running, and remove $XDG_RUNTIME_DIR/containerd-rootless if it still exists.\"\n\texit 1\nfi\n"
	runProbeTests(t, leftoverRuntimeState, []probeTest{
		{name: "no state", host: docker(), status: finding.Pass, summary: "no rootless containerd state"},
		{name: "nerdctl only", host: alice().Dir(crState), status: finding.Pass, summary: "not set up"},
		{name: "left behind", host: docker().Dir(crState), status: finding.Warn, summary: "left behind", fixes: []string{"manual.containerd-rootless"}},
		{name: "running", host: docker().File(crState+"/child_pid", "77\n").File("/proc/77/status", "Name:\tcontainerd\nUid:\t1000\t1000\t1000\t1000\n").
			File("/home/alice/.config/systemd/user/containerd.service", "[Service]\nExecStart=/usr/local/bin/containerd-rootless.sh\n"), status: finding.Warn, summary: "in use (RootlessKit's child, pid 77"},
		{name: "script refuses", host: docker().File("/home/alice/bin/dockerd-rootless.sh", refuses).Dir(crState), status: finding.Fail, summary: "will refuse to start"},
		{name: "garbage child_pid", host: docker().File(crState+"/child_pid", "\x00\xff"), status: finding.Warn, summary: "left behind"},
		{name: "unknown account", host: alice(), user: "mallory", status: finding.Skip},
	})
}

func TestLeftoverUserUnits(t *testing.T) {
	dir := "/home/alice/.config/systemd/user/"
	script := "/home/alice/bin/dockerd-rootless.sh"
	exe := host.FileMeta{Mode: "0755"}
	unit := "[Unit]\nDescription=Docker Application Container Engine (Rootless)\n[Service]\nEnvironment=PATH=/home/alice/bin:/sbin:/usr/sbin:/usr/local/bin:/usr/bin:/bin\nExecStart=" + script + "\n"
	installed := func() *host.Memory {
		return alice().File(dir+"docker.service", unit).File(script, "#!/bin/sh\n").Meta(script, exe).
			File("/home/alice/bin/rootlesskit", "").Meta("/home/alice/bin/rootlesskit", exe).
			File("/home/alice/bin/dockerd", "").Meta("/home/alice/bin/dockerd", exe)
	}
	runProbeTests(t, leftoverUserUnits, []probeTest{
		{name: "no units", host: alice(), status: finding.Pass, summary: "no docker"},
		{name: "installed", host: installed(), status: finding.Pass, summary: "docker.service start programs that exist"},
		{name: "script removed", host: alice().File(dir+"docker.service", unit), status: finding.Fail, summary: "does not exist: `status=203/EXEC`", fixes: []string{"manual.unit-docker"}},
		{name: "script not executable", host: installed().Meta(script, host.FileMeta{Mode: "0644"}), status: finding.Fail, summary: "not an executable"},
		{name: "rootlesskit gone from the unit's PATH", host: alice().File(dir+"docker.service", unit).File(script, "").Meta(script, exe).
			File("/usr/bin/dockerd", "").Meta("/usr/bin/dockerd", exe), status: finding.Fail, summary: "rootlesskit cannot be found"},
		{name: "drop-in resets ExecStart", host: installed().File(dir+"docker.service.d/override.conf", "[Service]\nExecStart=\nExecStart=/opt/gone/dockerd-rootless.sh\n"), status: finding.Fail, summary: "/opt/gone/dockerd-rootless.sh"},
		{name: "two broken units", host: alice().File(dir+"docker.service", unit).File(dir+"containerd.service", "[Service]\nExecStart=/home/alice/bin/containerd-rootless.sh\n"), status: finding.Fail, fixes: []string{"manual.unit-docker", "manual.unit-containerd"}},
		{name: "relative ExecStart", host: alice().File(dir+"buildkit.service", "[Service]\nExecStart=buildkitd\n"), status: finding.Pass},
		{name: "garbage unit", host: alice().File(dir+"docker.service", "\x00\xff[[[\nExecStart"), status: finding.Pass},
		{name: "unknown account", host: alice(), user: "mallory", status: finding.Skip},
	})
}
