package checks

import (
	"context"
	"fmt"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
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
		// statfs (Host.DiskSpace) instead of df since Dec 2026 (issue 16); df stays for
		// snapshots taken before.
		{name: "statfs: room", host: varTmp(alice()).DiskSpace("/", int64(big)<<10, int64(big)<<10), status: finding.Pass, summary: "50.0 GiB available"},
		{name: "statfs: nearly full", host: varTmp(alice()).DiskSpace("/var", int64(big)<<10, 300<<20), status: finding.Warn, summary: "only 300 MiB available"},
		{name: "statfs answers before df", host: varTmp(alice()).DiskSpace("/", int64(big)<<10, int64(big)<<10).
			Command([]string{"df", "-Pk", "/var/tmp"}, df("/", big, 300<<10), 0), status: finding.Pass, summary: "50.0 GiB available"},
		{name: "statfs: the runtime dir a small tmpfs", host: withPodman(alice()).Env("TMPDIR", "/run/user/1000").Env("XDG_RUNTIME_DIR", "/run/user/1000").
			Dir("/run/user/1000").Meta("/run/user/1000", host.FileMeta{Type: "dir", Mode: "0700", UID: host.Int(1000)}).
			File("/proc/self/mountinfo", "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 0:40 / /run/user/1000 rw,nosuid,nodev - tmpfs tmpfs rw,size=819200k\n").
			DiskSpace("/run/user/1000", 800<<20, 790<<20), status: finding.Warn,
			summary: "a filesystem of 800 MiB", fixes: []string{"manual.runtime-directory-size", "manual.podman-image-copy-tmp-dir"}},
	})
}

// The evidence names where the room came from: statfs and the mount point from the mount table,
// or a recorded df's output on an older snapshot.
func TestStorageTmpdirEvidence(t *testing.T) {
	base := func() *host.Memory {
		return withPodman(alice()).Dir("/var/tmp").Meta("/var/tmp", host.FileMeta{Type: "dir", Mode: "1777"}).
			File("/proc/self/mountinfo", "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n")
	}
	for name, tt := range map[string]struct {
		h                 *host.Memory
		source, wantValue string
	}{
		"statfs": {base().DiskSpace("/", 4<<30, 3<<30), "statfs /var/tmp", "/ size 4.0 GiB, 3.0 GiB available"},
		"df": {base().Command([]string{"df", "-Pk", "/var/tmp"}, "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 4194304 1 3145728 25% /\n", 0),
			"df -Pk /var/tmp", "/ size 4.0 GiB, 3.0 GiB available"},
	} {
		env := facts.NewEnv(context.Background(), tt.h.Host(), "")
		r := Run(context.Background(), []Probe{storageTmpdir}, env, Options{Sequential: true})[0]
		found := false
		for _, ev := range r.Evidence {
			if ev.Source == tt.source {
				found = true
				if ev.Value != tt.wantValue {
					t.Errorf("%s: %s = %q, want %q", name, ev.Source, ev.Value, tt.wantValue)
				}
			}
		}
		if !found {
			t.Errorf("%s: no evidence from %s: %+v", name, tt.source, r.Evidence)
		}
	}
}
