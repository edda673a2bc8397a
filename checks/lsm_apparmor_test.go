package checks

import (
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// Minimal AppArmor policy for pasta, written for these tests in the shape Debian's passt
// package has: a profile for /usr/bin/passt that includes an abstraction holding the file
// rules, and tunables that define the variables.
const (
	aaTunablesGlobal = "include <tunables/run>\ninclude <tunables/kernelvars>\n@{PROC}=/proc/\n"
	aaTunablesRun    = "@{run}=/run/ /var/run/\n"
	aaKernelvars     = "@{pid}={[1-9],[1-9][0-9],[1-9][0-9][0-9],[1-9][0-9][0-9][0-9],[1-9][0-9][0-9][0-9][0-9],[1-9][0-9][0-9][0-9][0-9][0-9]}\n" +
		"@{uid}={[0-9],[1-9][0-9],[1-9][0-9][0-9],[1-9][0-9][0-9][0-9],[1-9][0-9][0-9][0-9][0-9]}\n"
	aaPasstProfile   = "abi <abi/3.0>,\ninclude <tunables/global>\n\nprofile passt /usr/bin/passt{,.avx2} flags=(attach_disconnected) {\n  include <abstractions/pasta>\n  owner /tmp/** w,\n  include if exists <local/usr.bin.passt>\n}\n"
	aaPastaWithNetns = "  abi <abi/3.0>,\n  @{PROC}/net/tcp r,\n  @{run}/user/@{uid}/netns/* r,\n  @{PROC}/[0-9]*/ns/net r,\n  /dev/net/tun rw,\n"
	aaPastaOld       = "  abi <abi/3.0>,\n  @{PROC}/net/tcp r,\n  @{PROC}/[0-9]*/ns/net r,\n  /dev/net/tun rw,\n"
)

// pastaHost is alice with podman 5, pasta (a symlink to passt) and AppArmor on.
func pastaHost(abstraction string) *host.Memory {
	return pastaHostPodman(abstraction, "5.2.1")
}

func pastaHostPodman(abstraction, version string) *host.Memory {
	return withPodman(alice()).Env("XDG_RUNTIME_DIR", "/run/user/1000").
		File(appArmorEnabled, "Y\n").
		Exec("/usr/bin/passt").Symlink("/usr/bin/pasta", "passt").
		Command([]string{"/usr/bin/podman", "--version"}, "podman version "+version+"\n", 0).
		File("/etc/apparmor.d/usr.bin.passt", aaPasstProfile).
		File("/etc/apparmor.d/abstractions/pasta", abstraction).
		File("/etc/apparmor.d/tunables/global", aaTunablesGlobal).
		File("/etc/apparmor.d/tunables/run", aaTunablesRun).
		File("/etc/apparmor.d/tunables/kernelvars", aaKernelvars)
}

func TestLsmAppArmor(t *testing.T) {
	root := host.Identity{Name: "root"}
	runProbeTests(t, lsmAppArmor, []probeTest{
		{name: "profile allows podman's netns", host: pastaHost(aaPastaWithNetns), status: finding.Pass, summary: "the AppArmor profile passt lets pasta open podman's network namespaces (/run/user/1000/netns/…)"},
		// catalogue passt-apparmor-denies-runtime-paths
		{name: "profile without the netns rule", host: pastaHost(aaPastaOld), status: finding.Fail,
			summary: "the AppArmor profile passt keeps pasta from opening podman's network namespaces", fixes: []string{"manual.apparmor-passt-netns"}},
		{name: "owner rule does not cover root-owned netns files", host: pastaHost(aaPastaOld + "  owner @{run}/user/@{uid}/** rw,\n"), status: finding.Fail},
		{name: "deny rule wins", host: pastaHost(aaPastaWithNetns + "  deny @{run}/user/*/netns/** r,\n"), status: finding.Fail},
		{name: "local override adds the rule", host: pastaHost(aaPastaOld).File("/etc/apparmor.d/local/usr.bin.passt", "@{run}/user/@{uid}/** r,\n"), status: finding.Pass},
		{name: "runtime dir for --user", host: pastaHost(aaPastaWithNetns).Self(root), user: "alice", status: finding.Pass, summary: "/run/user/1000/netns"},
		{name: "profile not loaded", host: pastaHost(aaPastaOld).Self(root).File("/sys/kernel/security/apparmor/profiles", "rootlesskit (unconfined)\n"), user: "alice",
			status: finding.Pass, summary: "is not loaded"},
		{name: "no profile for pasta", host: pastaHost(aaPastaOld).File("/etc/apparmor.d/usr.bin.passt", "profile other /usr/bin/other {}\n"), status: finding.Pass, summary: "no AppArmor profile confines pasta"},
		{name: "variables undefined", host: pastaHost(aaPastaOld).File("/etc/apparmor.d/tunables/global", ""), status: finding.Warn, summary: "could not check"},
		{name: "podman 4 uses slirp4netns", host: pastaHostPodman(aaPastaOld, "4.9.3"), status: finding.Skip, summary: "podman 4.9.3 uses slirp4netns"},
		{name: "containers.conf picks slirp4netns", host: pastaHost(aaPastaOld).File("/etc/containers/containers.conf", "[network]\ndefault_rootless_network_cmd = \"slirp4netns\"\n"), status: finding.Skip},
		{name: "no pasta", host: withPodman(alice()).File(appArmorEnabled, "Y\n"), status: finding.Skip, summary: "pasta is not installed"},
		{name: "podman not in use", host: alice().File(appArmorEnabled, "Y\n"), status: finding.Skip},
		{name: "AppArmor off", host: pastaHost(aaPastaOld).File(appArmorEnabled, "N\n"), status: finding.Skip},
		{name: "no AppArmor", host: alice(), status: finding.Skip},
		{name: "checking root", host: pastaHost(aaPastaOld).Self(root), status: finding.Skip},
	})
}
