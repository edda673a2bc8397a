package checks

import (
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

func TestNetProxy(t *testing.T) {
	const unit = "/home/alice/.config/systemd/user/docker.service"
	const dropin = "/home/alice/.config/systemd/user/docker.service.d/proxy.conf"
	const script = "/usr/bin/dockerd-rootless.sh"
	docker := func() *host.Memory {
		return alice().File(script, "#!/bin/sh\nexec rootlesskit --disable-host-loopback dockerd\n").Meta(script, host.FileMeta{Mode: "0755"}).
			File(unit, "[Service]\nExecStart="+script+"\n")
	}
	runProbeTests(t, netProxy, []probeTest{
		{name: "no docker", host: alice().Env("HTTP_PROXY", "http://127.0.0.1:3128"), status: finding.Skip},
		{name: "no proxy", host: docker(), status: finding.Pass, summary: "no proxy"},
		{name: "corporate proxy", host: docker().File(dropin, "[Service]\nEnvironment=HTTPS_PROXY=http://proxy.corp:3128\n"), status: finding.Pass, summary: "not on the host's loopback"},
		{name: "cntlm on loopback", host: docker().File(dropin, "[Service]\nEnvironment=HTTP_PROXY=http://127.0.0.1:3128\n"), status: finding.Warn, summary: "HTTP_PROXY=http://127.0.0.1:3128", fixes: []string{"manual.docker-proxy"}},
		{name: "lower case localhost", host: docker().File(dropin, "[Service]\nEnvironment=https_proxy=localhost:8080\n"), status: finding.Warn, summary: "https_proxy=localhost:8080"},
		{name: "10.0.2.2 with host loopback blocked", host: docker().File(dropin, "[Service]\nEnvironment=HTTP_PROXY=http://10.0.2.2:3128\n"), status: finding.Warn},
		{name: "10.0.2.2 with host loopback allowed", host: docker().File(dropin, "[Service]\nEnvironment=HTTP_PROXY=http://10.0.2.2:3128\nEnvironment=DOCKERD_ROOTLESS_ROOTLESSKIT_DISABLE_HOST_LOOPBACK=false\n"), status: finding.Pass},
		{name: "detach-netns by default", host: docker().File(script, ": \"${DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS:=true}\"\n").File(dropin, "[Service]\nEnvironment=HTTP_PROXY=http://127.0.0.1:3128\n"), status: finding.Pass, summary: "--detach-netns"},
		{name: "started by hand", host: alice().File(script, "").Meta(script, host.FileMeta{Mode: "0755"}).Env("HTTP_PROXY", "http://[::1]:3128"), status: finding.Warn, summary: "the environment ($HTTP_PROXY)"},
		{name: "session proxy ignored with a unit", host: docker().Env("HTTP_PROXY", "http://127.0.0.1:3128"), status: finding.Pass},
		{name: "garbage", host: docker().File(dropin, "[Service]\nEnvironment=HTTP_PROXY=%%%\x00\xff\n"), status: finding.Pass},
		{name: "unknown account", host: docker(), user: "mallory", status: finding.Skip},
	})
}

// TestNetProxyRedacts: a proxy password never reaches the report.
func TestNetProxyRedacts(t *testing.T) {
	const script = "/usr/bin/dockerd-rootless.sh"
	h := alice().File(script, "").Meta(script, host.FileMeta{Mode: "0755"}).
		File("/home/alice/.config/systemd/user/docker.service", "[Service]\nExecStart="+script+"\nEnvironment=HTTP_PROXY=http://bob:s3cret@127.0.0.1:3128\n")
	r := result(t, netProxy, h, "")
	all := r.Summary + strings.Join(r.Details, " ")
	for _, ev := range r.Evidence {
		all += ev.Value
	}
	if r.Status != finding.Warn || strings.Contains(all, "s3cret") || strings.Contains(all, "bob:") {
		t.Errorf("%s %q: the password is shown: %s", r.Status, r.Summary, all)
	}
}
