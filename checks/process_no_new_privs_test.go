package checks

import (
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

func TestProcessNoNewPrivs(t *testing.T) {
	status := func(nnp string) string {
		return "Name:\tbash\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nNoNewPrivs:\t" + nnp + "\nSeccomp:\t0\n"
	}
	clean := func() *host.Memory { return alice().File("/proc/self/status", status("0")) }
	const userUnits = "/home/alice/.config/systemd/user"
	quadlet := "[Container]\nImage=docker.io/library/nginx\n[Service]\nNoNewPrivileges=true\n"
	runProbeTests(t, processNoNewPrivs, []probeTest{
		{name: "clean shell, no units", host: clean(), status: finding.Pass, summary: "this process runs without no_new_privs", fixes: []string{}},
		{name: "pod with allowPrivilegeEscalation false", host: alice().File("/proc/self/status", status("1")), status: finding.Fail,
			summary: "this process runs with no_new_privs", fixes: []string{"manual.no-new-privs"}},
		{name: "status not recorded", host: alice(), status: finding.Pass, summary: "could not be read"},
		{name: "unreadable status", host: alice().File("/proc/self/status", status("0")).Meta("/proc/self/status", host.FileMeta{Mode: "0000"}), status: finding.Pass,
			summary: "could not be read"},
		{name: "garbage status", host: alice().File("/proc/self/status", "\x00\xff"), status: finding.Pass},
		{name: "quadlet with NoNewPrivileges", host: clean().File("/home/alice/.config/containers/systemd/web.container", quadlet), status: finding.Fail,
			summary: "web.container sets no_new_privs", fixes: []string{"manual.no-new-privs-unit"}},
		{name: "quadlet drop-in turns it off", host: clean().File("/home/alice/.config/containers/systemd/web.container", quadlet).
			File("/home/alice/.config/containers/systemd/web.container.d/10-nnp.conf", "[Service]\nNoNewPrivileges=no\n"), status: finding.Pass},
		{name: "administrator's quadlet for all users", host: clean().File("/etc/containers/systemd/users/web.container", quadlet), status: finding.Fail, summary: "web.container"},
		{name: "docker.service hardened by a drop-in", host: clean().File(userUnits+"/docker.service", "[Service]\nExecStart=/usr/bin/dockerd-rootless.sh\n").
			File(userUnits+"/docker.service.d/harden.conf", "[Service]\nSystemCallFilter=@system-service\nRestrictNamespaces=yes\n"), status: finding.Fail,
			summary: "docker.service sets no_new_privs"},
		{name: "distribution's podman.service with the account's drop-in", host: clean().File("/usr/lib/systemd/user/podman.service", "[Service]\nExecStart=/usr/bin/podman system service\n").
			File(userUnits+"/podman.service.d/override.conf", "[Service]\nLockPersonality=yes\n"), status: finding.Fail, summary: "podman.service"},
		{name: "generated container unit", host: clean().File(userUnits+"/container-web.service", "[Service]\nNoNewPrivileges=yes\nExecStart=/usr/bin/podman start web\n"),
			status: finding.Fail, summary: "container-web.service"},
		{name: "a unit that starts no engine is not judged", host: clean().File(userUnits+"/syncthing.service", "[Service]\nNoNewPrivileges=yes\nExecStart=/usr/bin/syncthing serve\n"),
			status: finding.Pass},
		{name: "a wrapper shell starting podman", host: clean().File(userUnits+"/pod.service", "[Service]\nNoNewPrivileges=yes\nExecStart=/bin/sh -c 'exec /usr/bin/podman run x'\n"),
			status: finding.Fail, summary: "pod.service"},
		{name: "user manager with NoNewPrivileges", host: clean().File("/etc/systemd/system/user@.service.d/harden.conf", "[Service]\nNoNewPrivileges=yes\n").
			File("/usr/lib/systemd/system/user@.service", "[Service]\nExecStart=/usr/lib/systemd/systemd --user\n"), status: finding.Fail, summary: "user@.service sets no_new_privs"},
		{name: "both: the process and a unit", host: alice().File("/proc/self/status", status("1")).File("/home/alice/.config/containers/systemd/web.container", quadlet),
			status: finding.Fail, summary: "this process runs with no_new_privs", fixes: []string{"manual.no-new-privs", "manual.no-new-privs-unit"}},
		{name: "on behalf: root's bit is not alice's", host: alice().Self(rootSelf).File("/proc/self/status", status("1")), user: "alice", status: finding.Pass,
			summary: "no user unit or quadlet of alice"},
		{name: "on behalf: alice's quadlet", host: alice().Self(rootSelf).File("/home/alice/.config/containers/systemd/web.container", quadlet), user: "alice",
			status: finding.Fail, summary: "web.container"},
		{name: "garbled unit", host: clean().File(userUnits+"/docker.service", "[Service]\nNoNewPrivileges=yes\nthis is no assignment\nExecStart=/usr/bin/dockerd-rootless.sh\n"),
			status: finding.Fail, summary: "docker.service"},
		{name: "unreadable quadlet", host: clean().File("/home/alice/.config/containers/systemd/web.container", quadlet).
			Meta("/home/alice/.config/containers/systemd/web.container", host.FileMeta{Mode: "0000", UID: host.Int(0)}), status: finding.Pass},
		{name: "root: skip", host: alice().Self(rootSelf), status: finding.Skip},
	})
}
