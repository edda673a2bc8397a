package checks

import (
	"fmt"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

func TestStorageTmpdir(t *testing.T) {
	df := func(mnt string, sizeK, availK int) string {
		return "Filesystem     1024-blocks     Used Available Capacity Mounted on\n" + fmt.Sprintf("fs %d 0 %d 1%% %s\n", sizeK, availK, mnt)
	}
	varTmp := func(m *host.Memory) *host.Memory {
		return withPodman(m).Dir("/var/tmp").Meta("/var/tmp", host.FileMeta{Type: "dir", Mode: "1777"})
	}
	big, small := 50<<20, 1<<20 // KiB: 50 GiB, 1 GiB
	root := host.Identity{Name: "root"}
	runProbeTests(t, storageTmpdir, []probeTest{
		{name: "podman not in use", host: alice(), status: finding.Skip},
		{name: "/var/tmp with room", host: varTmp(alice()).Command([]string{"df", "-Pk", "/var/tmp"}, df("/", big, big), 0), status: finding.Pass,
			summary: "podman stages pulls in /var/tmp (from the default): 50.0 GiB available"},
		// catalogue image-tmpdir-too-small
		{name: "/var/tmp a 1 GiB tmpfs", host: varTmp(alice()).Command([]string{"df", "-Pk", "/var/tmp"}, df("/var/tmp", small, small), 0), status: finding.Warn,
			summary: "a filesystem of 1.0 GiB", fixes: []string{"manual.podman-image-copy-tmp-dir"}},
		{name: "/var/tmp nearly full", host: varTmp(alice()).Command([]string{"df", "-Pk", "/var/tmp"}, df("/", big, 300<<10), 0), status: finding.Warn,
			summary: "only 300 MiB available"},
		{name: "/var/tmp not writable", host: withPodman(alice()).Dir("/var/tmp").Meta("/var/tmp", host.FileMeta{Type: "dir", Mode: "0755"}), status: finding.Fail,
			summary: "which alice cannot write: every pull fails"},
		{name: "no df", host: varTmp(alice()), status: finding.Pass, summary: "its room could not be measured"},
		{name: "df garbage", host: varTmp(alice()).Command([]string{"df", "-Pk", "/var/tmp"}, "garbage", 0), status: finding.Pass, summary: "could not be measured"},
		// catalogue runtime-dir-tmpfs-too-small
		{name: "TMPDIR in the runtime dir", host: withPodman(alice()).Env("TMPDIR", "/run/user/1000").Env("XDG_RUNTIME_DIR", "/run/user/1000").
			Dir("/run/user/1000").Meta("/run/user/1000", host.FileMeta{Type: "dir", Mode: "0700", UID: host.Int(1000)}).
			Command([]string{"df", "-Pk", "/run/user/1000"}, df("/run/user/1000", 800<<10, 790<<10), 0), status: finding.Warn,
			summary: "podman stages pulls in /run/user/1000 (from $TMPDIR), a filesystem of 800 MiB", fixes: []string{"manual.runtime-directory-size", "manual.podman-image-copy-tmp-dir"}},
		{name: "TMPDIR ignored for --user", host: varTmp(alice()).Self(root).Env("TMPDIR", "/nope").Command([]string{"df", "-Pk", "/var/tmp"}, df("/", big, big), 0), user: "alice",
			status: finding.Pass, summary: "/var/tmp"},
		{name: "image_copy_tmp_dir storage", host: withPodman(alice()).File("/home/alice/.config/containers/containers.conf", "[engine]\nimage_copy_tmp_dir = \"storage\"\n").
			Command([]string{"df", "-Pk", "/home/alice"}, df("/home", big, big), 0).Meta("/home/alice", host.FileMeta{Type: "dir", Mode: "0700", UID: host.Int(1000)}), status: finding.Pass,
			summary: "/home/alice/.local/share/containers/storage/tmp (to be created in /home/alice) (from /home/alice/.config/containers/containers.conf, image_copy_tmp_dir = \"storage\")"},
		{name: "system drop-in overridden by the account", host: varTmp(alice()).File("/etc/containers/containers.conf.d/10-tmp.conf", "[engine]\nimage_copy_tmp_dir = \"/srv/tmp\"\n").
			File("/home/alice/.config/containers/containers.conf", "[engine]\nimage_copy_tmp_dir = \"/var/tmp\"\n").
			Command([]string{"df", "-Pk", "/var/tmp"}, df("/", big, big), 0), status: finding.Pass, summary: "from /home/alice/.config/containers/containers.conf"},
		{name: "relative image_copy_tmp_dir", host: withPodman(alice()).File("/etc/containers/containers.conf", "[engine]\nimage_copy_tmp_dir = \"tmp\"\n"), status: finding.Fail,
			summary: "is not an absolute path"},
		{name: "garbage containers.conf", host: varTmp(alice()).File("/etc/containers/containers.conf", "[engine\n").Command([]string{"df", "-Pk", "/var/tmp"}, df("/", big, big), 0), status: finding.Pass},
		{name: "checking root", host: varTmp(alice()).Self(root), status: finding.Skip},
	})
}
