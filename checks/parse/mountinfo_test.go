package parse

import (
	"errors"
	"path"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
)

// devMountinfo is the head of /proc/self/mountinfo on the Debian 12 development machine: no
// systemd, / private.
const devMountinfo = `22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
`

// systemdMountinfo is a typical systemd host: every mount shared, a btrfs /home.
const systemdMountinfo = `26 1 0:23 / / rw,relatime shared:1 - ext4 /dev/sda2 rw
27 26 0:24 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
28 27 0:25 / /proc/sys/fs/binfmt_misc rw,relatime shared:13 - autofs systemd-1 rw,fd=29
40 26 0:40 /@home /home rw,relatime shared:30 - btrfs /dev/sda3 rw,ssd,space_cache=v2,user_subvol_rm_allowed,subvol=/@home
41 40 0:41 / /home/alice/My\040Files rw shared:31 - nfs4 srv:/export rw
`

// containerMountinfo is inside a Docker container: / is overlay, a slave of the host, and
// /proc has masked paths.
const containerMountinfo = `600 500 0:50 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
601 600 0:52 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
602 601 0:53 /null /proc/kcore rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
603 601 0:52 /sys /proc/sys ro,nosuid,nodev,noexec,relatime - proc proc rw
`

func TestParseMountinfo(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		count   int
		wantErr bool
	}{
		{"dev machine", devMountinfo, 4, false},
		{"systemd host", systemdMountinfo, 5, false},
		{"container", containerMountinfo, 4, false},
		{"empty", "", 0, true},
		{"garbage", "hello world\n", 0, true},
		{"no separator", "1 2 3:4 / / rw shared:1 a b c d\n", 0, true},
		{"bad major:minor", "1 2 34 / / rw - ext4 /dev/x rw\n", 0, true},
		{"truncated line", devMountinfo + "28 27 0:5 / /dev", 0, true},
		{"line too long", "1 2 3:4 / /" + strings.Repeat("a", 70000) + " rw - ext4 x rw\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMountinfo([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if len(got) != tt.count {
				t.Errorf("got %d mounts, want %d", len(got), tt.count)
			}
		})
	}
	if _, err := ParseMountinfo(nil); !errors.Is(err, ErrNoMounts) {
		t.Errorf("empty input: err = %v, want ErrNoMounts", err)
	}
}

func TestMountForAndAt(t *testing.T) {
	sys, _ := ParseMountinfo([]byte(systemdMountinfo))
	stacked, _ := ParseMountinfo([]byte("1 0 0:1 / / rw - rootfs rootfs rw\n2 1 0:2 / / rw shared:1 - ext4 /dev/sda rw\n"))
	tests := []struct {
		name   string
		mounts string
		path   string
		wantFor,
		wantAt string // mount points; "" for nil
	}{
		{"root", systemdMountinfo, "/", "/", "/"},
		{"file on root", systemdMountinfo, "/etc/passwd", "/", ""},
		{"home", systemdMountinfo, "/home/alice/.local/share/docker", "/home", ""},
		{"prefix is not a parent", systemdMountinfo, "/homework", "/", ""},
		{"escaped space", systemdMountinfo, "/home/alice/My Files/x", "/home/alice/My Files", ""},
		{"unclean path", systemdMountinfo, "//home/./alice/../alice", "/home", ""},
		{"binfmt", systemdMountinfo, "/proc/sys/fs/binfmt_misc", "/proc/sys/fs/binfmt_misc", "/proc/sys/fs/binfmt_misc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mp(MountFor(sys, tt.path)); got != tt.wantFor {
				t.Errorf("MountFor(%q) = %q, want %q", tt.path, got, tt.wantFor)
			}
			if got := mp(MountAt(sys, tt.path)); got != tt.wantAt {
				t.Errorf("MountAt(%q) = %q, want %q", tt.path, got, tt.wantAt)
			}
		})
	}
	// Stacked mounts: the last listed is the visible one.
	if m := MountAt(stacked, "/"); m == nil || m.FSType != "ext4" {
		t.Errorf("MountAt on a stacked / = %+v, want the ext4 mount", m)
	}
	if m := MountFor(stacked, "/x"); m == nil || m.FSType != "ext4" {
		t.Errorf("MountFor on a stacked / = %+v, want the ext4 mount", m)
	}
	if MountFor(nil, "/") != nil || MountAt(nil, "/") != nil {
		t.Error("no mounts must give nil")
	}
}

func mp(m *mountinfo.Info) string {
	if m == nil {
		return ""
	}
	return m.Mountpoint
}

func TestParsePropagation(t *testing.T) {
	tests := []struct {
		optional string
		want     Propagation
		str      string
	}{
		{"", Propagation{}, "private"},
		{"shared:1", Propagation{Shared: true, PeerGroup: 1}, "shared"},
		{"master:7", Propagation{Slave: true, Master: 7}, "private,slave"},
		{"shared:3 master:1", Propagation{Shared: true, PeerGroup: 3, Slave: true, Master: 1}, "shared,slave"},
		{"master:2 propagate_from:5", Propagation{Slave: true, Master: 2, PropagateFrom: 5}, "private,slave"},
		{"unbindable", Propagation{Unbindable: true}, "private,unbindable"},
		{"shared:x future:9 garbage", Propagation{Shared: true}, "shared"},
	}
	for _, tt := range tests {
		t.Run(tt.optional, func(t *testing.T) {
			got := ParsePropagation(tt.optional)
			if got != tt.want {
				t.Errorf("ParsePropagation(%q) = %+v, want %+v", tt.optional, got, tt.want)
			}
			if got.String() != tt.str {
				t.Errorf("String() = %q, want %q", got.String(), tt.str)
			}
		})
	}
}

func TestHasMountOption(t *testing.T) {
	opts := "rw,ssd,space_cache=v2,user_subvol_rm_allowed,subvol=/@home"
	for _, tt := range []struct {
		name string
		want bool
	}{
		{"user_subvol_rm_allowed", true},
		{"space_cache", true},
		{"ssd", true},
		{"subvol", true},
		{"user_subvol", false},
		{"", false},
	} {
		if got := HasMountOption(opts, tt.name); got != tt.want {
			t.Errorf("HasMountOption(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestProcOvermounts(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     []string
	}{
		{"systemd host: binfmt_misc only", systemdMountinfo, nil},
		{"container: masked", containerMountinfo, []string{"/proc/kcore", "/proc/sys"}},
		{"dev machine", devMountinfo, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mounts, err := ParseMountinfo([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			got := ProcOvermounts(mounts)
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("ProcOvermounts = %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzParseMountinfo(f *testing.F) {
	for _, s := range []string{devMountinfo, systemdMountinfo, containerMountinfo, "", "1 2 3:4 / / rw - x y z\n", "1 2 3:4 /\\040 /a\\134b rw shared:1 - x y z\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		mounts, err := ParseMountinfo(data)
		if err != nil {
			if mounts != nil {
				t.Fatalf("error %v with mounts", err)
			}
			return
		}
		if len(mounts) == 0 {
			t.Fatal("no error and no mounts")
		}
		for _, m := range mounts {
			if m == nil {
				t.Fatal("nil mount")
			}
			p := ParsePropagation(m.Optional)
			if s := p.String(); !strings.HasPrefix(s, "shared") && !strings.HasPrefix(s, "private") {
				t.Fatalf("propagation string %q", s)
			}
			for _, field := range strings.Fields(m.Optional) {
				if strings.HasPrefix(field, "shared:") && !p.Shared {
					t.Fatalf("optional %q has %q but Shared is false", m.Optional, field)
				}
			}
			// A clean absolute mount point is found by both lookups.
			if path.IsAbs(m.Mountpoint) && path.Clean(m.Mountpoint) == m.Mountpoint {
				if at := MountAt(mounts, m.Mountpoint); at == nil || at.Mountpoint != m.Mountpoint {
					t.Fatalf("MountAt(%q) = %+v", m.Mountpoint, at)
				}
				if in := MountFor(mounts, m.Mountpoint); in == nil || in.Mountpoint != m.Mountpoint {
					t.Fatalf("MountFor(%q) = %+v", m.Mountpoint, in)
				}
			}
		}
		for _, p := range ProcOvermounts(mounts) {
			if !strings.HasPrefix(p, "/proc/") {
				t.Fatalf("ProcOvermounts gave %q", p)
			}
		}
	})
}
