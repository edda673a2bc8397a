package checks

import (
	"os"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

const restrictFile = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"

// Profiles as Ubuntu 24.04's apparmor 4.0 package ships them (/etc/apparmor.d/rootlesskit,
// /etc/apparmor.d/podman), and as Docker's docs tell get.docker.com/rootless users to write;
// the first and last are shared with checks/parse's tests in testdata/apparmor.
var (
	ubuntuRootlesskitProfile = mustReadFile("apparmor/testdata/ubuntu-24.04-rootlesskit")
	homeBinProfile           = mustReadFile("apparmor/testdata/docker-docs-home-bin-rootlesskit")
)

func mustReadFile(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return string(data)
}

const (
	ubuntuPodmanProfile = `abi <abi/4.0>,
include <tunables/global>

profile podman /usr/bin/podman flags=(unconfined) {
  userns,

  # Site-specific additions and overrides. See local/README for details.
  include if exists <local/podman>
}
`
	passtProfile = `abi <abi/3.0>,

include <tunables/global>

profile passt /usr/bin/passt{,.avx2} flags=(attach_disconnected) {
  include <abstractions/passt>
  owner @{HOME}/**			w,	# pcap(), write_pidfile()
  include <abstractions/pasta>
}
`
)

// ubuntu2404 is an Ubuntu 24.04 host with the restriction on and the apparmor package's
// profiles, tunables and abstractions, but no rootless tools installed.
func ubuntu2404() *host.Memory {
	return procSys(alice()).
		Kernel("6.8.0-31-generic").
		File("/etc/os-release", osRelease("ubuntu", "24.04", "Ubuntu 24.04 LTS")).
		File(restrictFile, "1\n").
		File("/proc/sys/kernel/apparmor_restrict_unprivileged_unconfined", "1\n").
		File("/proc/sys/kernel/unprivileged_userns_apparmor_policy", "1\n").
		File("/etc/apparmor.d/tunables/global", "#include <tunables/home>\n#include <tunables/proc>\n").
		File("/etc/apparmor.d/tunables/home", "@{HOMEDIRS}=/home/\n@{HOME}=@{HOMEDIRS}/*/ /root/\ninclude if exists <tunables/home.d>\n").
		File("/etc/apparmor.d/tunables/home.d/ubuntu", "@{HOMEDIRS}+=\n").
		File("/etc/apparmor.d/tunables/proc", "@{PROC}=/proc/\n").
		File("/etc/apparmor.d/abstractions/base", "  /etc/ld.so.cache r,\n").
		File("/etc/apparmor.d/abstractions/passt", "  capability net_raw,\n").
		File("/etc/apparmor.d/abstractions/pasta", "  capability sys_admin,\n  mount options=(rw, runbindable) -> /,\n").
		File("/etc/apparmor.d/rootlesskit", ubuntuRootlesskitProfile).
		File("/etc/apparmor.d/podman", ubuntuPodmanProfile).
		File("/etc/apparmor.d/usr.bin.man", "#include <tunables/global>\n/usr/bin/man {\n  #include <abstractions/base>\n  /usr/bin/eqn rmCx -> &man_groff,\n}\n").
		File("/etc/apparmor.d/local/README", "Site-specific additions\n").
		File("/etc/apparmor.d/local/rootlesskit", "").
		Dir("/etc/apparmor.d/disable").
		Exec("/usr/sbin/apparmor_parser")
}

func TestUsernsAppArmor(t *testing.T) {
	u := ubuntu2404
	rk := []string{"apparmor.usr.local.bin.rootlesskit"}
	runProbeTests(t, usernsAppArmor, []probeTest{
		// The restriction is not there, or off.
		{name: "no restriction sysctl (Debian, Fedora, the dev machine)", host: procSys(alice()), status: finding.Pass, summary: "does not restrict", fixes: []string{}},
		{name: "restriction off", host: u().File(restrictFile, "0\n").Exec("/usr/local/bin/rootlesskit"), status: finding.Pass, summary: "= 0", fixes: []string{}},
		{name: "complain mode", host: u().File("/proc/sys/kernel/apparmor_restrict_unprivileged_userns_complain", "1\n").Exec("/usr/local/bin/rootlesskit"),
			status: finding.Pass, summary: "only logs"},

		// Ubuntu 24.04 with rootlesskit from the distribution.
		{name: "ubuntu 24.04, /usr/bin/rootlesskit with the packaged profile", host: u().Exec("/usr/bin/rootlesskit"),
			status: finding.Pass, summary: "profiles allow them for rootlesskit", fixes: []string{}},
		{name: "nothing installed", host: u(), status: finding.Pass, summary: "no rootlesskit, podman or buildah is installed yet"},
		{name: "non-standard path, profile only for /usr/bin", host: u().Exec("/usr/local/bin/rootlesskit"),
			status: finding.Fail, summary: "AppArmor blocks user namespaces for /usr/local/bin/rootlesskit: no AppArmor profile grants userns", fixes: rk},
		{name: "both paths: /usr/local/bin wins on PATH", host: u().Exec("/usr/bin/rootlesskit").Exec("/usr/local/bin/rootlesskit"),
			status: finding.Fail, summary: "/usr/local/bin/rootlesskit", fixes: rk},
		{name: "symlink to /usr/bin/rootlesskit", host: u().Exec("/usr/bin/rootlesskit").Symlink("/usr/local/bin/rootlesskit", "/usr/bin/rootlesskit"),
			status: finding.Pass, summary: "rootlesskit"},
		{name: "symlink from /usr/bin to /opt", host: u().Exec("/opt/rootlesskit/bin/rootlesskit").Symlink("/usr/bin/rootlesskit", "/opt/rootlesskit/bin/rootlesskit"),
			status: finding.Fail, summary: "/opt/rootlesskit/bin/rootlesskit", fixes: []string{"apparmor.opt.rootlesskit.bin.rootlesskit"}},
		{name: "get.docker.com/rootless in ~/bin without a profile", host: u().Exec("/home/alice/bin/rootlesskit"),
			status: finding.Fail, summary: "/home/alice/bin/rootlesskit", fixes: []string{"apparmor.home.alice.bin.rootlesskit"}},
		{name: "~/bin with Docker's documented profile", host: u().Exec("/home/alice/bin/rootlesskit").File("/etc/apparmor.d/home.alice.bin.rootlesskit", homeBinProfile),
			status: finding.Pass},
		{name: "~/bin checked as root with --user", host: u().Self(host.Identity{Name: "root"}).Exec("/home/alice/bin/rootlesskit"), user: "alice",
			status: finding.Fail, summary: "/home/alice/bin/rootlesskit", fixes: []string{"apparmor.home.alice.bin.rootlesskit"}},
		{name: "~/bin through @{HOME} in the attachment", host: u().Exec("/home/alice/bin/rootlesskit").
			File("/etc/apparmor.d/home.rootlesskit", "include <tunables/global>\nprofile home-rootlesskit @{HOME}/bin/rootlesskit flags=(unconfined) {\n  userns,\n}\n"),
			status: finding.Pass},
		{name: "glob alternation covers /usr/local/bin", host: u().Exec("/usr/local/bin/rootlesskit").
			File("/etc/apparmor.d/rootless-tools", "profile rootless-tools /usr/{local/,}bin/{rootlesskit,podman} flags=(unconfined) {\n  userns,\n}\n"),
			status: finding.Pass},
		{name: "star glob", host: u().Exec("/opt/nerdctl-full/bin/rootlesskit").
			File("/etc/apparmor.d/opt.nerdctl", "/opt/*/bin/rootlesskit flags=(unconfined) {\n  userns,\n}\n"),
			status: finding.Pass},
		{name: "userns granted through the local include", host: u().Exec("/usr/local/bin/rootlesskit").
			File("/etc/apparmor.d/usr.local.bin.rootlesskit", "profile rk-local /usr/local/bin/rootlesskit flags=(unconfined) {\n  include if exists <local/usr.local.bin.rootlesskit>\n}\n").
			File("/etc/apparmor.d/local/usr.local.bin.rootlesskit", "userns,\n"),
			status: finding.Pass},
		{name: "profile without userns", host: u().Exec("/usr/local/bin/rootlesskit").
			File("/etc/apparmor.d/usr.local.bin.rootlesskit", "profile rk-local /usr/local/bin/rootlesskit flags=(unconfined) {\n  include if exists <local/usr.local.bin.rootlesskit>\n}\n"),
			status: finding.Fail, summary: "its profile rk-local has no userns rule", fixes: []string{"manual.apparmor-usr.local.bin.rootlesskit"}},
		{name: "profile denies userns", host: u().Exec("/usr/bin/rootlesskit").
			File("/etc/apparmor.d/rootlesskit", "profile rootlesskit /usr/bin/rootlesskit {\n  deny userns,\n}\n"),
			status: finding.Fail, summary: "denies userns", fixes: []string{"manual.apparmor-usr.bin.rootlesskit"}},
		{name: "packaged profile disabled", host: u().Exec("/usr/bin/rootlesskit").Symlink("/etc/apparmor.d/disable/rootlesskit", "../rootlesskit"),
			status: finding.Fail, summary: "its profile rootlesskit is disabled", fixes: []string{"manual.apparmor-usr.bin.rootlesskit"}},
		{name: "profile only in a dpkg leftover", host: u().Exec("/usr/local/bin/rootlesskit").
			File("/etc/apparmor.d/usr.local.bin.rootlesskit.dpkg-old", "/usr/local/bin/rootlesskit flags=(unconfined) {\n  userns,\n}\n"),
			status: finding.Fail, fixes: rk},
		{name: "profile only in a subdirectory", host: u().Exec("/usr/local/bin/rootlesskit").
			File("/etc/apparmor.d/abstractions/rootlesskit", "/usr/local/bin/rootlesskit flags=(unconfined) {\n  userns,\n}\n"),
			status: finding.Fail, fixes: rk},
		{name: "commented-out profile", host: u().Exec("/usr/local/bin/rootlesskit").
			File("/etc/apparmor.d/usr.local.bin.rootlesskit", "# /usr/local/bin/rootlesskit flags=(unconfined) {\n#  userns,\n# }\n"),
			status: finding.Fail, fixes: rk},
		{name: "child profile's userns is not the parent's", host: u().Exec("/usr/local/bin/rootlesskit").
			File("/etc/apparmor.d/usr.local.bin.rootlesskit", "profile rk /usr/local/bin/rootlesskit {\n  profile child {\n    userns,\n  }\n}\n"),
			status: finding.Fail, summary: "no userns rule"},

		// Loaded or only on disk.
		{name: "loaded", host: u().Exec("/usr/bin/rootlesskit").File("/sys/kernel/security/apparmor/profiles", "rootlesskit (unconfined)\n/usr/bin/man (enforce)\n"),
			status: finding.Pass},
		{name: "on disk but not loaded", host: u().Exec("/usr/bin/rootlesskit").File("/sys/kernel/security/apparmor/profiles", "/usr/bin/man (enforce)\n"),
			status: finding.Fail, summary: "its profile rootlesskit is not loaded", fixes: []string{"manual.apparmor-usr.bin.rootlesskit"}},

		// Other tools that create user namespaces.
		{name: "podman with its packaged profile", host: u().Exec("/usr/bin/rootlesskit").Exec("/usr/bin/podman"), status: finding.Pass, summary: "rootlesskit, podman"},
		{name: "buildah without a profile", host: u().Exec("/usr/bin/buildah"), status: finding.Fail, summary: "/usr/bin/buildah", fixes: []string{"apparmor.usr.bin.buildah"}},
		{name: "pasta without userns only warns", host: u().Exec("/usr/bin/rootlesskit").Exec("/usr/bin/passt").Symlink("/usr/bin/pasta", "passt").
			File("/etc/apparmor.d/usr.bin.passt", passtProfile),
			status: finding.Warn, summary: "pasta (/usr/bin/passt): its profile passt has no userns rule", fixes: []string{"manual.apparmor-usr.bin.passt"}},
		{name: "pasta granted through abstractions/pasta", host: u().Exec("/usr/bin/rootlesskit").Exec("/usr/bin/passt").Symlink("/usr/bin/pasta", "passt").
			File("/etc/apparmor.d/usr.bin.passt", passtProfile).
			File("/etc/apparmor.d/abstractions/pasta", "  userns,\n  capability sys_admin,\n"),
			status: finding.Pass},
		{name: "pasta without any profile", host: u().Exec("/usr/bin/pasta"), status: finding.Warn, fixes: []string{"apparmor.usr.bin.pasta"}},

		// The doctor itself, which embeds rootlesskit.
		{name: "doctor without a profile", host: u().Exec("/usr/bin/rootlesskit").Exec("/usr/local/bin/rootless-doctor").Executable("/usr/local/bin/rootless-doctor"),
			status: finding.Fail, summary: "/usr/local/bin/rootless-doctor", fixes: []string{"apparmor.usr.local.bin.rootless-doctor"}},
		{name: "doctor with a profile", host: u().Executable("/usr/local/bin/rootless-doctor").
			File("/etc/apparmor.d/usr.local.bin.rootless-doctor", "abi <abi/4.0>,\ninclude <tunables/global>\n\"/usr/local/bin/rootless-doctor\" flags=(unconfined) {\n  userns,\n}\n"),
			status: finding.Pass, summary: "rootless-doctor"},
		{name: "doctor from go run", host: u().Exec("/usr/bin/rootlesskit").Executable("/tmp/go-build123/b001/exe/rootless-doctor"),
			status: finding.Warn, summary: "temporary build", fixes: []string{"manual.rootless-doctor-fixed-path"}},

		// No apparmor_parser: the fix needs it.
		{name: "no apparmor_parser", host: u().Exec("/usr/local/bin/rootlesskit").File("/usr/sbin/apparmor_parser", "not executable"),
			status: finding.Fail, fixes: []string{"apparmor.usr.local.bin.rootlesskit", "package.apparmor_parser"}},

		// Only at the next boot.
		{name: "off now, on at boot, no profile", host: u().File(restrictFile, "0\n").Exec("/usr/local/bin/rootlesskit").
			File("/etc/sysctl.d/60-apparmor.conf", "kernel.apparmor_restrict_unprivileged_userns=1\n"),
			status: finding.Warn, summary: "after the next boot AppArmor will block user namespaces for /usr/local/bin/rootlesskit", fixes: rk},
		{name: "off now, on at boot, profile present", host: u().File(restrictFile, "0\n").Exec("/usr/bin/rootlesskit").
			File("/etc/sysctl.d/60-apparmor.conf", "kernel.apparmor_restrict_unprivileged_userns=1\n"),
			status: finding.Pass, summary: "after the next boot"},

		// Broken hosts.
		{name: "garbage sysctl", host: u().File(restrictFile, "on\n"), status: finding.Warn, summary: "not a number"},
		{name: "no /proc/sys", host: alice(), status: finding.Warn, summary: "could not check"},
		{name: "no /etc/apparmor.d", host: procSys(alice()).File(restrictFile, "1\n").Exec("/usr/bin/rootlesskit"), status: finding.Fail, fixes: []string{"apparmor.usr.bin.rootlesskit", "package.apparmor_parser"}},
		{name: "unreadable profile file", host: u().Exec("/usr/bin/rootlesskit").Meta("/etc/apparmor.d/rootlesskit", host.FileMeta{Mode: "0000"}),
			status: finding.Warn, summary: "some profiles could not be read", fixes: []string{}},
		{name: "unreadable unrelated profile file", host: u().Exec("/usr/bin/rootlesskit").Meta("/etc/apparmor.d/usr.bin.man", host.FileMeta{Mode: "0000"}),
			status: finding.Pass},
		{name: "garbage profile files", host: u().Exec("/usr/local/bin/rootlesskit").
			File("/etc/apparmor.d/junk", "\x00\xff{{{ profile \"unterminated\n}}}}}").
			File("/etc/apparmor.d/junk2", "@{A}=@{A}x\nprofile a @{A} { userns, }\nprofile b /usr/local/bin/{ { userns, }\n"),
			status: finding.Fail, fixes: rk},
		{name: "undefined variable in an attachment", host: u().Exec("/usr/local/bin/rootlesskit").
			File("/etc/apparmor.d/x", "profile x @{NOPE}/rootlesskit flags=(unconfined) {\n  userns,\n}\n"),
			status: finding.Fail, fixes: rk},
	})
}

func TestUsernsAppArmorDetails(t *testing.T) {
	r := probeDetails(t, usernsAppArmor, ubuntu2404().Exec("/usr/local/bin/rootlesskit"), "")
	for _, want := range []string{
		"apparmor_restrict_unprivileged_userns=0", // named as the alternative …
		"not the recommended fix",                 // … and not recommended
		"unprivileged_userns` profile",            // the policy sysctl explained
		"docker/docs#19638",                       // why /usr/local/bin has no profile
		"No profile in /etc/apparmor.d attaches to /usr/local/bin/rootlesskit",
	} {
		if !hasDetail(r, want) {
			t.Errorf("details lack %q: %q", want, r.Details)
		}
	}
	for _, in := range r.Intents {
		if in.Key == "kernel.apparmor_restrict_unprivileged_userns" {
			t.Errorf("the fix must never turn the restriction off: %+v", in)
		}
	}
	if len(r.Intents) != 1 || r.Intents[0].Path != "/usr/local/bin/rootlesskit" {
		t.Errorf("intents = %+v", r.Intents)
	}

	r = probeDetails(t, usernsAppArmor, ubuntu2404().Exec("/usr/bin/rootlesskit").
		File("/sys/kernel/security/apparmor/profiles", "rootlesskit (unconfined)\n"), "")
	if !hasDetail(r, "/etc/apparmor.d/rootlesskit:7") || !hasDetail(r, "loaded (unconfined)") {
		t.Errorf("evidence = %+v", r.Evidence)
	}

	r = probeDetails(t, usernsAppArmor, ubuntu2404().Exec("/usr/local/bin/rootlesskit").
		File("/etc/apparmor.d/usr.local.bin.rootlesskit", "profile rk-local /usr/local/bin/rootlesskit {\n  userns,\n  /usr/local/bin/rootlesskit rix,\n}\n"), "")
	if r.Status != finding.Pass || !hasDetail(r, "is confined") {
		t.Errorf("confined profile: %s %q %q", r.Status, r.Summary, r.Details)
	}

	r = probeDetails(t, usernsAppArmor, ubuntu2404().Exec("/usr/local/bin/rootlesskit").
		File("/etc/apparmor.d/usr.local.bin.rootlesskit", "profile rk-local /usr/local/bin/rootlesskit flags=(unconfined) {\n  include if exists <local/usr.local.bin.rootlesskit>\n}\n"), "")
	if len(r.Intents) != 1 || !strings.Contains(r.Intents[0].Reason, "/etc/apparmor.d/local/usr.local.bin.rootlesskit") {
		t.Errorf("a profile without userns is fixed through its local include: %+v", r.Intents)
	}

	r = probeDetails(t, usernsAppArmor, ubuntu2404().Exec("/usr/local/bin/rootlesskit").
		File("/etc/apparmor.d/x", "profile x @{NOPE}/rootlesskit flags=(unconfined) {\n  userns,\n}\n"), "")
	if !hasDetail(r, "Could not evaluate the attachment") {
		t.Errorf("an attachment that cannot be evaluated is reported: %q", r.Details)
	}
}
