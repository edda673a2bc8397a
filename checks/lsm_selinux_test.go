package checks

import (
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

func TestLsmSELinux(t *testing.T) {
	enforcing := func() *host.Memory { return selinuxEnforcing(alice()) }
	oldScript := "#!/bin/sh\n# dockerd-rootless.sh\nexec rootlesskit --net=slirp4netns $0 $@\n"
	newScript := "#!/bin/sh\nif [ -n \"$_DOCKERD_ROOTLESS_SELINUX\" ]; then\n\tchcon system_u:object_r:iptables_var_run_t:s0 /run\nfi\n"
	moved := func(m *host.Memory) *host.Memory {
		return withPodman(m).File("/home/alice/.config/containers/storage.conf", "[storage]\ngraphroot = \"/data/alice/storage\"\n").
			Dir("/data/alice/storage/overlay").Meta("/data/alice/storage", host.FileMeta{Type: "dir", Mode: "0700", UID: host.Int(1000)})
	}
	root := host.Identity{Name: "root"}
	runProbeTests(t, lsmSELinux, []probeTest{
		{name: "no SELinux", host: alice(), status: finding.Skip},
		{name: "permissive", host: alice().File(selinuxEnforce, "0\n"), status: finding.Pass, summary: "permissive"},
		{name: "enforcing, nothing installed", host: enforcing(), status: finding.Pass, summary: "nothing the static checks know of is denied"},
		// catalogue xtables-lock-selinux
		{name: "old dockerd-rootless.sh", host: enforcing().File("/usr/bin/dockerd-rootless.sh", oldScript).Meta("/usr/bin/dockerd-rootless.sh", host.FileMeta{Mode: "0755"}),
			status: finding.Fail, summary: "/usr/bin/dockerd-rootless.sh does not relabel the private /run for iptables", fixes: []string{"manual.selinux-xtables-lock"}},
		{name: "old containerd-rootless.sh", host: enforcing().File("/usr/local/bin/containerd-rootless.sh", oldScript).Meta("/usr/local/bin/containerd-rootless.sh", host.FileMeta{Mode: "0755"}),
			status: finding.Fail, summary: "rootless containerd (nerdctl)"},
		{name: "current dockerd-rootless.sh", host: enforcing().File("/usr/bin/dockerd-rootless.sh", newScript).Meta("/usr/bin/dockerd-rootless.sh", host.FileMeta{Mode: "0755"}),
			status: finding.Pass, summary: "the rootless setup scripts (dockerd-rootless.sh) relabel /run for iptables"},
		{name: "old script, permissive", host: alice().File(selinuxEnforce, "0\n").File("/usr/bin/dockerd-rootless.sh", oldScript).Meta("/usr/bin/dockerd-rootless.sh", host.FileMeta{Mode: "0755"}),
			status: finding.Pass},
		// catalogue selinux-graphroot-mislabelled
		{name: "moved graphroot labelled default_t", host: moved(enforcing()).Command([]string{"stat", "-c", "%C", "/data/alice/storage/overlay"}, "unconfined_u:object_r:default_t:s0\n", 0),
			status: finding.Warn, summary: "is labelled default_t (its label)", fixes: []string{"manual.selinux-graphroot-label"}},
		{name: "moved graphroot relabelled", host: moved(enforcing()).Command([]string{"stat", "-c", "%C", "/data/alice/storage/overlay"}, "unconfined_u:object_r:container_ro_file_t:s0\n", 0),
			status: finding.Pass},
		{name: "new graphroot: matchpathcon", host: withPodman(enforcing()).File("/home/alice/.config/containers/storage.conf", "[storage]\ngraphroot = \"/srv/alice\"\n").
			Command([]string{"matchpathcon", "-n", "/srv/alice/overlay"}, "system_u:object_r:var_t:s0\n", 0), status: finding.Warn, summary: "var_t (the label new files there get)"},
		{name: "label unreadable", host: moved(enforcing()), status: finding.Pass},
		{name: "default graphroot is not checked", host: withPodman(enforcing()), status: finding.Pass},
		{name: "unreadable enforce", host: alice().File(selinuxEnforce, "1").Meta(selinuxEnforce, host.FileMeta{Mode: "0200"}), status: finding.Warn, summary: "could not check"},
		{name: "checking root", host: enforcing().Self(root), status: finding.Skip},
	})
	r := runForResult(t, lsmSELinux, enforcing().Dir(selinuxUsernsClass).Exec("/usr/bin/pasta"), "")
	wantDetailsContain(t, r, "mediates user namespace creation", "prove --net pasta")
}
