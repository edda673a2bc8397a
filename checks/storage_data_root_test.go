package checks

import (
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

func TestStorageDataRoot(t *testing.T) {
	root := host.Identity{UID: 0, GID: 0, Name: "root"}
	dockerDir := func(m *host.Memory, meta host.FileMeta) *host.Memory {
		return m.Dir(aliceDocker).Meta(aliceDocker, meta)
	}

	runProbeTests(t, storageDataRoot, []probeTest{
		{name: "default, not created yet", host: storageHost("6.8.0"), status: finding.Pass, summary: "~/.local/share/docker (to be created in /home/alice) on ext4"},
		{name: "default, exists", host: dockerDir(storageHost("6.8.0"), host.FileMeta{Mode: "0710", UID: host.Int(1000)}), status: finding.Pass, summary: "~/.local/share/docker on ext4"},
		{name: "root with --user", host: storageHost("6.8.0").Self(root), user: "alice", status: finding.Pass, summary: "~/.local/share/docker"},
		{name: "XDG_DATA_HOME", host: storageHost("6.8.0").Dir("/data").Meta("/data", host.FileMeta{UID: host.Int(1000)}).Env("XDG_DATA_HOME", "/data").FSType("/data", "xfs"),
			status: finding.Pass, summary: "/data/docker (to be created in /data) on xfs"},
		{name: "relative XDG_DATA_HOME is ignored", host: storageHost("6.8.0").Env("XDG_DATA_HOME", "data"), status: finding.Pass, summary: "~/.local/share/docker"},
		{name: "XDG_DATA_HOME is not the account's when on behalf", host: storageHost("6.8.0").Self(root).Env("XDG_DATA_HOME", "/root/.data"), user: "alice", status: finding.Pass, summary: "~/.local/share/docker"},

		// Network and odd filesystems.
		{name: "home on nfs", host: storageHost("6.8.0").FSType("/home", "nfs"), status: finding.Fail, summary: "the docker data root ~/.local/share/docker (to be created in /home/alice) is on nfs",
			fixes: []string{"manual.move-docker-data-root"}},
		{name: "home on cifs", host: storageHost("6.8.0").FSType("/home/alice", "cifs"), status: finding.Fail, summary: "on cifs"},
		{name: "home on lustre", host: storageHost("6.8.0").FSType("/home", "lustre"), status: finding.Fail, summary: "on lustre"},
		{name: "home on gpfs", host: storageHost("6.8.0").FSType("/home", "gpfs"), status: finding.Fail, summary: "on gpfs"},
		{name: "home on nfs, data-root moved to local disk", host: storageHost("6.8.0").FSType("/home", "nfs").
			File(daemonJSONPath, `{"data-root": "/srv/alice/docker"}`).Dir("/srv/alice").Meta("/srv/alice", host.FileMeta{Mode: "0700", UID: host.Int(1000)}),
			status: finding.Pass, summary: "/srv/alice/docker (to be created in /srv/alice) on ext4"},
		{name: "data-root moved to nfs", host: storageHost("6.8.0").File(daemonJSONPath, `{"data-root": "/net/alice"}`).
			Dir("/net").Meta("/net", host.FileMeta{Mode: "1777"}).FSType("/net", "nfs"), status: finding.Fail, summary: "/net/alice (to be created in /net) is on nfs"},
		{name: "tmpfs", host: storageHost("6.8.0").FSType("/home", "tmpfs"), status: finding.Warn, summary: "images are lost at reboot", fixes: []string{"manual.move-docker-data-root"}},
		{name: "9p", host: storageHost("6.8.0").FSType("/home", "9p"), status: finding.Warn, summary: "on 9p"},
		{name: "btrfs", host: storageHost("6.8.0").FSType("/home", "btrfs"), status: finding.Pass, summary: "on btrfs"},
		{name: "overlay", host: storageHost("6.8.0").FSType("/", "overlay"), status: finding.Pass, summary: "on overlay"},
		{name: "unknown filesystem", host: storageHost("6.8.0").FSType("/home", "unknown(0x1234)"), status: finding.Pass, summary: "on unknown(0x1234)"},

		// Permissions and paths.
		{name: "data root owned by root", host: dockerDir(storageHost("6.8.0"), host.FileMeta{Mode: "0755", UID: host.Int(0)}), status: finding.Fail,
			summary: "alice cannot write to /home/alice/.local/share/docker (the docker data root)", fixes: []string{"manual.own-docker-data-root"}},
		{name: "home not writable, data root not created", host: storageHost("6.8.0").Meta("/home/alice", host.FileMeta{Mode: "0755", UID: host.Int(0)}), status: finding.Fail,
			summary: "alice cannot write to /home/alice", fixes: []string{"manual.own-docker-data-root"}},
		{name: "nfs and not writable: nfs leads", host: dockerDir(storageHost("6.8.0"), host.FileMeta{Mode: "0755", UID: host.Int(0)}).FSType("/home", "nfs"), status: finding.Fail,
			summary: "on nfs", fixes: []string{"manual.move-docker-data-root"}},
		{name: "a file in the way", host: storageHost("6.8.0").File("/home/alice/.local", "oops"), status: finding.Fail, summary: "/home/alice/.local is in the way", fixes: []string{"manual.data-root-path"}},
		{name: "relative data-root is under home", host: storageHost("6.8.0").File(daemonJSONPath, `{"data-root": "docker-data"}`), status: finding.Pass, summary: "~/docker-data"},

		// daemon.json.
		{name: "invalid daemon.json", host: storageHost("6.8.0").File(daemonJSONPath, `{"data-root": }`), status: finding.Fail, summary: "~/.config/docker/daemon.json is not valid",
			fixes: []string{"manual.fix-docker-daemon-json"}},
		{name: "data-root not a string", host: storageHost("6.8.0").File(daemonJSONPath, `{"data-root": ["/x"]}`), status: finding.Fail, summary: "not valid"},
		{name: "empty daemon.json", host: storageHost("6.8.0").File(daemonJSONPath, ""), status: finding.Pass},
		{name: "unreadable daemon.json", host: storageHost("6.8.0").File(daemonJSONPath, "{}").Meta(daemonJSONPath, host.FileMeta{Mode: "0000"}), status: finding.Warn,
			summary: "cannot read the docker configuration"},
		{name: "XDG_CONFIG_HOME daemon.json", host: storageHost("6.8.0").Env("XDG_CONFIG_HOME", "/cfg").File("/cfg/docker/daemon.json", `{"data-root":"/home/alice/d2"}`),
			status: finding.Pass, summary: "~/d2"},

		// podman.
		{name: "podman installed: both roots", host: withPodman(storageHost("6.8.0")), status: finding.Pass,
			summary: "~/.local/share/docker (to be created in /home/alice) on ext4; ~/.local/share/containers/storage (to be created in /home/alice) on ext4"},
		{name: "podman graphroot on nfs", host: withPodman(storageHost("6.8.0")).FSType("/net", "nfs").Dir("/net").
			File(userConf, "[storage]\ndriver = \"overlay\"\ngraphroot = \"/net/$USER/containers\"\n"), status: finding.Fail,
			summary: "the podman data root /net/alice/containers (to be created in /net) is on nfs", fixes: []string{"manual.move-podman-data-root"}},
		{name: "user storage.conf without podman on PATH still counts", host: storageHost("6.8.0").FSType("/net", "nfs").Dir("/net").
			File(userConf, "[storage]\ngraphroot = \"/net/x\"\n"), status: finding.Fail, summary: "podman data root"},
		{name: "rootless_storage_path in /etc saves an nfs home for podman only", host: withPodman(storageHost("6.8.0")).FSType("/home", "nfs").
			File("/etc/containers/storage.conf", "[storage]\ngraphroot = \"/var/lib/containers/storage\"\nrootless_storage_path = \"/scratch/$UID/containers\"\n").
			Dir("/scratch").Meta("/scratch", host.FileMeta{Mode: "1777"}), status: finding.Fail, summary: "the docker data root", fixes: []string{"manual.move-docker-data-root"}},
		{name: "system graphroot is root's, not the account's", host: withPodman(storageHost("6.8.0")).
			File("/etc/containers/storage.conf", "[storage]\ngraphroot = \"/nonexistent/storage\"\n"), status: finding.Pass, summary: "~/.local/share/containers/storage"},
		{name: "CONTAINERS_STORAGE_CONF", host: withPodman(storageHost("6.8.0")).Env("CONTAINERS_STORAGE_CONF", "/tmp/s.conf").Dir("/tmp").Meta("/tmp", host.FileMeta{Mode: "1777"}).
			File("/tmp/s.conf", "[storage]\ngraphroot = \"/tmp/st\"\n").FSType("/tmp", "tmpfs"), status: finding.Warn, summary: "the podman data root /tmp/st (to be created in /tmp) is on tmpfs"},
		{name: "garbage storage.conf", host: withPodman(storageHost("6.8.0")).File(userConf, "[storage\n"), status: finding.Warn, summary: "cannot read the podman configuration"},

		// Cannot tell.
		{name: "filesystem type unknown", host: alice(), status: finding.Warn, summary: "could not check: cannot tell the filesystem of /home/alice"},
		{name: "unknown account", host: storageHost("6.8.0").Self(root), user: "mallory", status: finding.Skip},
		{name: "no home", host: storageHost("6.8.0").File("/etc/passwd", "alice:x:1000:1000::/:/bin/sh\ncarol:x:1002:1002:::/bin/sh\n").Self(root), user: "carol", status: finding.Skip},
	})
}

func TestStorageDataRootBtrfsDetail(t *testing.T) {
	mi := func(opts string) string {
		return "1 0 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n2 1 8:2 /@home /home rw,relatime shared:2 - btrfs /dev/sda2 " + opts + "\n"
	}
	h := storageHost("6.8.0").FSType("/home", "btrfs")
	r := runForResult(t, storageDataRoot, h.File(facts.MountinfoPath, mi("rw,ssd,user_subvol_rm_allowed,subvol=/@home")), "")
	wantDetailsContain(t, r, "/home is mounted with user_subvol_rm_allowed")
	r = runForResult(t, storageDataRoot, h.File(facts.MountinfoPath, mi("rw,ssd,subvol=/@home")), "")
	wantDetailsContain(t, r, "/home is not mounted with user_subvol_rm_allowed", "moby/moby#41762")
	r = runForResult(t, storageDataRoot, storageHost("6.8.0").FSType("/home", "btrfs"), "")
	wantDetailsContain(t, r, "kernel 4.18 or later with quotas off")

	r = runForResult(t, storageDataRoot, storageHost("6.8.0").File(daemonJSONPath, `{"data-root":"/home/alice/d"}`), "")
	wantDetailsContain(t, r, `The docker data root comes from /home/alice/.config/docker/daemon.json "data-root"`)
}

func TestStorageDataRootMounts(t *testing.T) {
	mi := func(homeOpts string) string {
		return "1 0 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n2 1 8:2 / /home " + homeOpts + " shared:2 - ext4 /dev/sda2 rw\n"
	}
	homed := "1 0 8:1 / / rw shared:1 - btrfs /dev/sda1 rw\n3 1 0:40 / /home/alice rw,nosuid,nodev,relatime,idmapped shared:3 - btrfs /dev/sda1 rw,subvol=/home/alice.homedir\n"
	base := func() *host.Memory { return storageHost("6.8.0").FSType("/home", "ext4") }
	runProbeTests(t, storageDataRoot, []probeTest{
		// catalogue home-mounted-noexec
		{name: "home noexec", host: base().File(facts.MountinfoPath, mi("rw,nosuid,nodev,noexec,relatime")), status: finding.Fail,
			summary: "is on /home, mounted noexec: containers cannot run the programs of their images", fixes: []string{"manual.data-root-noexec-docker"}},
		{name: "home exec", host: base().File(facts.MountinfoPath, mi("rw,nosuid,nodev,relatime")), status: finding.Pass},
		{name: "noexec and not writable", host: base().File(facts.MountinfoPath, mi("rw,noexec")).Meta("/home/alice", host.FileMeta{Mode: "0755", UID: host.Int(0)}), status: finding.Fail,
			summary: "mounted noexec", fixes: []string{"manual.data-root-noexec-docker"}},

		// catalogue home-on-systemd-homed
		{name: "homed, subids outside the container range", host: storageHost("6.8.0").FSType("/", "btrfs").File(facts.MountinfoPath, homed).
			File("/etc/subuid", "alice:100000:65536\n").File("/etc/subgid", "alice:100000:65536\n"), status: finding.Fail,
			summary: "an id-mapped systemd-homed home that does not map alice's subordinate ids (subuid 100000-165535, subgid 100000-165535)", fixes: []string{"manual.homed-subids"}},
		{name: "homed, subids in the container range", host: storageHost("6.8.0").FSType("/", "btrfs").File(facts.MountinfoPath, homed).
			File("/etc/subuid", "alice:524288:65536\n").File("/etc/subgid", "alice:524288:65536\n"), status: finding.Pass},
		{name: "homed, no subids (idmap.subuid says so)", host: storageHost("6.8.0").FSType("/", "btrfs").File(facts.MountinfoPath, homed), status: finding.Pass},
		{name: "idmapped mount elsewhere", host: storageHost("6.8.0").File(facts.MountinfoPath, "1 0 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n3 1 0:40 / /srv rw,idmapped shared:3 - ext4 /dev/sdb1 rw\n").
			File("/etc/subuid", "alice:100000:65536\n"), status: finding.Pass},

		// catalogue storage-on-tmpfs-without-xattrs
		{name: "tmpfs before 6.6", host: storageHost("6.1.0").FSType("/home", "tmpfs"), status: finding.Warn, summary: "keeps no user extended attributes before Linux 6.6"},
		{name: "tmpfs on 6.6", host: storageHost("6.6.0").FSType("/home", "tmpfs"), status: finding.Warn, summary: "images are lost at reboot"},
		{name: "ramfs", host: storageHost("6.8.0").FSType("/home", "ramfs"), status: finding.Warn, summary: "keeps no user extended attributes"},

		// catalogue graphroot-symlink-crosses-filesystems
		{name: "graphroot symlink into another filesystem", host: withPodman(storageHost("6.8.0")).
			File(facts.MountinfoPath, "1 0 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n2 1 8:2 / /home rw shared:2 - ext4 /dev/sda2 rw\n3 1 8:3 / /data rw shared:3 - xfs /dev/sdb1 rw\n").
			FSType("/data", "xfs").Dir("/home/alice/.local/share").Meta("/home/alice/.local/share", host.FileMeta{Mode: "0755", UID: host.Int(1000)}).Symlink("/home/alice/.local/share/containers", "/data/alice/containers").
			Dir("/data/alice/containers/storage").Meta("/data/alice/containers/storage", host.FileMeta{Mode: "0700", UID: host.Int(1000)}),
			status: finding.Warn, summary: "podman's graphroot ~/.local/share/containers/storage is reached through the symlink ~/.local/share/containers into another filesystem (/data)",
			fixes: []string{"manual.podman-graphroot-real-path"}},
		{name: "graphroot symlink on the same filesystem", host: withPodman(storageHost("6.8.0")).
			File(facts.MountinfoPath, "1 0 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n").
			Dir("/home/alice/.local/share").Meta("/home/alice/.local/share", host.FileMeta{Mode: "0755", UID: host.Int(1000)}).Symlink("/home/alice/.local/share/containers", "/home/alice/c").
			Dir("/home/alice/c/storage").Meta("/home/alice/c/storage", host.FileMeta{Mode: "0700", UID: host.Int(1000)}), status: finding.Pass},
	})
	r := runForResult(t, storageDataRoot, withPodman(storageHost("6.8.0")).
		File(facts.MountinfoPath, "1 0 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n3 1 8:3 / /data rw shared:3 - xfs /dev/sdb1 rw\n").
		FSType("/data", "xfs").Dir("/home/alice/.local/share").Meta("/home/alice/.local/share", host.FileMeta{Mode: "0755", UID: host.Int(1000)}).Symlink("/home/alice/.local/share/containers", "/data/alice/containers").Dir("/data/alice/containers").Meta("/data/alice/containers", host.FileMeta{Mode: "0700", UID: host.Int(1000)}), "")
	if len(r.Intents) != 1 || !strings.Contains(r.Intents[0].Reason, `graphroot = "/data/alice/containers/storage"`) {
		t.Errorf("intents = %+v, want the real path of a graphroot to be created", r.Intents)
	}
}
