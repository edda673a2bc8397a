package checks

import (
	"context"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// withUserNS adds /proc/self/ns as a kernel with user namespaces shows it.
func withUserNS(m *host.Memory) *host.Memory {
	return m.Symlink("/proc/self/ns/net", "net:[4026531833]").
		Symlink("/proc/self/ns/mnt", "mnt:[4026531832]").
		Symlink("/proc/self/ns/user", "user:[4026531837]")
}

func osRelease(id, version, pretty string) string {
	return "ID=" + id + "\nVERSION_ID=\"" + version + "\"\nPRETTY_NAME=\"" + pretty + "\"\n"
}

// probeDetails runs one probe over a host and returns the result, for tests that look at
// details and evidence beyond what probeTest checks.
func probeDetails(t *testing.T, p Probe, m *host.Memory, user string) finding.Result {
	t.Helper()
	env := facts.NewEnv(context.Background(), m.Host(), user)
	return Run(context.Background(), []Probe{p}, env, Options{Sequential: true})[0]
}

// hasDetail reports whether some detail or evidence value contains s.
func hasDetail(r finding.Result, s string) bool {
	for _, d := range r.Details {
		if strings.Contains(d, s) {
			return true
		}
	}
	for _, ev := range r.Evidence {
		if strings.Contains(ev.Source+" "+ev.Value, s) {
			return true
		}
	}
	return false
}

func TestKernelVersion(t *testing.T) {
	ubuntu := func(kernel string) *host.Memory {
		return withUserNS(alice()).Kernel(kernel).File("/etc/os-release", osRelease("ubuntu", "20.04", "Ubuntu 20.04.6 LTS"))
	}
	centos7 := func() *host.Memory {
		return withUserNS(alice()).Kernel("3.10.0-1160.el7.x86_64").File("/etc/os-release", osRelease("centos", "7", "CentOS Linux 7 (Core)"))
	}
	runProbeTests(t, kernelVersion, []probeTest{
		{name: "6.8 with user namespaces", host: withUserNS(alice()).Kernel("6.8.0-31-generic"), status: finding.Pass, summary: "overlayfs in user namespaces (5.11+)"},
		{name: "dev machine 6.18", host: withUserNS(alice()).Kernel("6.18.44-fc-v669"), status: finding.Pass, summary: "kernel 6.18.44"},
		{name: "5.11 early overlay", host: withUserNS(alice()).Kernel("5.11.0-1-default"), status: finding.Pass, summary: "5.11+"},
		{name: "ubuntu 5.4 patched overlay", host: ubuntu("5.4.0-150-generic"), status: finding.Pass, summary: "Ubuntu's kernel allows overlayfs"},
		{name: "ubuntu userland, vanilla 5.4", host: ubuntu("5.4.0-vanilla"), status: finding.Pass, summary: "use fuse-overlayfs"},
		{name: "debian 11 5.10", host: withUserNS(alice()).Kernel("5.10.0-28-amd64"), status: finding.Pass, summary: "use fuse-overlayfs"},
		{name: "rhel 8 4.18", host: withUserNS(alice()).Kernel("4.18.0-513.5.1.el8_9.x86_64"), status: finding.Pass, summary: "kernel 4.18.0"},
		{name: "4.17 too old", host: withUserNS(alice()).Kernel("4.17.19"), status: finding.Fail, summary: "older than 4.18", fixes: []string{"manual.kernel-upgrade"}},
		{name: "centos 7", host: centos7(), status: finding.Fail, summary: "kernel 3.10.0 is older than 4.18", fixes: []string{"manual.kernel-upgrade"}},
		{name: "centos 7 with user_namespace.enable=N", host: centos7().File(usernsParamRH7, "N\n"), status: finding.Fail,
			summary: "older than 4.18", fixes: []string{"manual.kernel-userns-enable", "manual.kernel-upgrade"}},
		{name: "user_namespace.enable=N on a new kernel", host: withUserNS(alice()).Kernel("4.18.0-80.el8").File(usernsParamRH7, "N\n"), status: finding.Fail,
			summary: "switched off on the kernel command line", fixes: []string{"manual.kernel-userns-enable"}},
		{name: "user_namespace.enable=Y", host: withUserNS(alice()).Kernel("6.1.0").File(usernsParamRH7, "Y\n"), status: finding.Pass},
		{name: "built without CONFIG_USER_NS", host: alice().Kernel("6.6.1-vendor").Symlink("/proc/self/ns/net", "net:[1]"), status: finding.Fail,
			summary: "built without user namespaces", fixes: []string{"manual.kernel-userns"}},
		{name: "no /proc at all", host: alice().Kernel("6.8.0"), status: finding.Warn, summary: "could not check"},
		{name: "no /proc but too old", host: alice().Kernel("3.10.0"), status: finding.Fail, summary: "older than 4.18"},
		{name: "garbage release", host: withUserNS(alice()).Kernel("garbage"), status: finding.Warn, summary: "could not check"},
		{name: "empty release", host: withUserNS(alice()).Kernel(""), status: finding.Warn, summary: "could not check"},
		{name: "huge release", host: withUserNS(alice()).Kernel("99999999999999999999.1"), status: finding.Warn, summary: "could not check"},
		{name: "unknown account does not matter", host: withUserNS(host.NewMemory()), status: finding.Pass},
	})
}

func TestKernelVersionDetails(t *testing.T) {
	r := probeDetails(t, kernelVersion, withUserNS(alice()).Kernel("5.11.0"), "")
	if !hasDetail(r, "moby/moby#42333") || !hasDetail(r, "mount_setattr") {
		t.Errorf("5.11 details = %q", r.Details)
	}
	r = probeDetails(t, kernelVersion, withUserNS(alice()).Kernel("5.10.0"), "")
	if !hasDetail(r, "Function not implemented") || !hasDetail(r, "fuse-overlayfs") {
		t.Errorf("5.10 details = %q", r.Details)
	}
	r = probeDetails(t, kernelVersion, withUserNS(alice()).Kernel("3.10.0-1160.el7.x86_64").
		File("/etc/os-release", osRelease("rhel", "7.9", "Red Hat Enterprise Linux Server 7.9 (Maipo)")), "")
	if !hasDetail(r, "release 8 or later") {
		t.Errorf("RHEL 7 details = %q", r.Details)
	}
}
