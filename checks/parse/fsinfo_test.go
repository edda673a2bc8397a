package parse

import (
	"strings"
	"testing"
)

func TestParseDF(t *testing.T) {
	tests := []struct {
		name, in string
		want     DiskSpace
		wantErr  bool
	}{
		{"coreutils", "Filesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/vda         264212084 23846644  71654620      25% /\n",
			DiskSpace{Size: 264212084 * 1024, Avail: 71654620 * 1024, Mount: "/"}, false},
		{"tmpfs /var/tmp", "Filesystem     1024-blocks  Used Available Capacity Mounted on\ntmpfs               524288 10240    514048       2% /var/tmp\n",
			DiskSpace{Size: 524288 * 1024, Avail: 514048 * 1024, Mount: "/var/tmp"}, false},
		{"busybox", "Filesystem           1024-blocks    Used Available Capacity Mounted on\noverlay                 61252420 4200980  53910724   7% /\n",
			DiskSpace{Size: 61252420 * 1024, Avail: 53910724 * 1024, Mount: "/"}, false},
		{"spaces in source and mount point", "Filesystem 1024-blocks Used Available Capacity Mounted on\nmy share 100 50 50 50% /mnt/my disk\n",
			DiskSpace{Size: 100 * 1024, Avail: 50 * 1024, Mount: "/mnt/my disk"}, false},
		{"header only", "Filesystem     1024-blocks     Used Available Capacity Mounted on\n", DiskSpace{}, true},
		{"empty", "", DiskSpace{}, true},
		{"error text", "df: /nope: No such file or directory\n", DiskSpace{}, true},
		{"not numbers", "h\nfs x y z 1% /\n", DiskSpace{}, true},
		{"negative", "h\nfs -1 0 -5 1% /\n", DiskSpace{}, true},
		{"huge", "h\nfs 99999999999999999999 0 1 1% /\n", DiskSpace{}, true},
		{"no mount point", "h\nfs 1 1 1 1%\n", DiskSpace{}, true},
	}
	for _, tt := range tests {
		got, err := ParseDF([]byte(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: got %+v, %v; want %+v, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzParseDF(f *testing.F) {
	f.Add([]byte("Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 10 5 5 50% /\n"))
	f.Add([]byte("h\nx 1 2 3 4% a b c\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDF(data)
		if err != nil {
			return
		}
		if d.Size < 0 || d.Avail < 0 || d.Mount == "" {
			t.Fatalf("%+v from %q", d, data)
		}
	})
}

// rhel7XFSInfo is xfs_info of a filesystem made before RHEL 7.3 (ftype=0).
const rhel7XFSInfo = `meta-data=/dev/mapper/rhel-home isize=256    agcount=4, agsize=6553344 blks
         =                       sectsz=512   attr=2, projid32bit=1
         =                       crc=0        finobt=0 spinodes=0
data     =                       bsize=4096   blocks=26213376, imaxpct=25
         =                       sunit=0      swidth=0 blks
naming   =version 2              bsize=4096   ascii-ci=0 ftype=0
log      =internal               bsize=4096   blocks=12799, version=2
         =                       sectsz=512   sunit=0 blks, lazy-count=1
realtime =none                   extsz=4096   blocks=0, rtextents=0
`

func TestParseXFSInfoFtype(t *testing.T) {
	tests := []struct {
		in       string
		want     int
		wantOK   bool
		describe string
	}{
		{rhel7XFSInfo, 0, true, "RHEL 7 era"},
		{strings.Replace(rhel7XFSInfo, "ascii-ci=0 ftype=0", "ascii-ci=0, ftype=1", 1), 1, true, "modern, with a comma"},
		{"naming   =version 2   bsize=4096   ascii-ci=0\n", 0, false, "no ftype field (very old xfsprogs)"},
		{"", 0, false, "empty"},
		{"naming =version 2 ftype=7\n", 0, false, "not 0 or 1"},
		{"xfs_info: /home is not a mounted XFS filesystem\n", 0, false, "error"},
	}
	for _, tt := range tests {
		got, ok := ParseXFSInfoFtype([]byte(tt.in))
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: got %d, %v; want %d, %v", tt.describe, got, ok, tt.want, tt.wantOK)
		}
	}
}

func FuzzParseXFSInfoFtype(f *testing.F) {
	f.Add([]byte(rhel7XFSInfo))
	f.Add([]byte("naming =version 2 ftype=1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if n, ok := ParseXFSInfoFtype(data); ok && n != 0 && n != 1 {
			t.Fatalf("ftype %d", n)
		}
	})
}

func TestParseZFSVersion(t *testing.T) {
	tests := []struct {
		in           string
		major, minor int
		wantErr      bool
	}{
		{"2.1.5-1ubuntu6~22.04.1\n", 2, 1, false},
		{"2.2.2-0ubuntu9", 2, 2, false},
		{"zfs-2.2.6-1", 2, 2, false},
		{"0.8.3-1ubuntu12", 0, 8, false},
		{"2.3", 2, 3, false},
		{"2", 0, 0, true},
		{"", 0, 0, true},
		{"x.y", 0, 0, true},
		{"99999999999.1", 0, 0, true},
	}
	for _, tt := range tests {
		ma, mi, err := ParseZFSVersion([]byte(tt.in))
		if (err != nil) != tt.wantErr || ma != tt.major || mi != tt.minor {
			t.Errorf("%q: got %d.%d, %v", tt.in, ma, mi, err)
		}
	}
}

func FuzzParseZFSVersion(f *testing.F) {
	f.Add([]byte("2.1.5-1ubuntu6~22.04.1"))
	f.Add([]byte("zfs-2.2.6-1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ma, mi, err := ParseZFSVersion(data)
		if err == nil && (ma < 0 || mi < 0 || ma > 999999 || mi > 999999) {
			t.Fatalf("%d.%d from %q", ma, mi, data)
		}
	})
}

func TestSELinuxType(t *testing.T) {
	for in, want := range map[string]string{
		"unconfined_u:object_r:default_t:s0\n":          "default_t",
		"system_u:object_r:container_ro_file_t:s0":      "container_ro_file_t",
		"unconfined_u:object_r:data_home_t:s0:c0.c1023": "data_home_t",
		"/srv/x\tsystem_u:object_r:default_t:s0":        "",
		"?":                                             "",
		"":                                              "",
		"stat: failed to get security context of '/': No data available": "",
	} {
		got, ok := SELinuxType(in)
		if got != want || ok != (want != "") {
			t.Errorf("%q: got %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestParseHidePID(t *testing.T) {
	tests := []struct {
		in   string
		want HidePID
	}{
		{"rw", HidePID{}},
		{"rw,hidepid=2", HidePID{Level: 2, Value: "2"}},
		{"rw,nosuid,nodev,noexec,relatime,hidepid=invisible,gid=27", HidePID{Level: 2, Value: "invisible", GID: 27, HasGID: true}},
		{"rw,hidepid=1", HidePID{Level: 1, Value: "1"}},
		{"rw,hidepid=noaccess", HidePID{Level: 1, Value: "noaccess"}},
		{"rw,hidepid=ptraceable", HidePID{Level: 4, Value: "ptraceable"}},
		{"rw,hidepid=off", HidePID{Level: 0, Value: "off"}},
		{"rw,hidepid=0,gid=x", HidePID{Level: 0, Value: "0"}},
		{"rw,hidepid=weird", HidePID{Level: 2, Value: "weird"}},
	}
	for _, tt := range tests {
		if got := ParseHidePID(tt.in); got != tt.want {
			t.Errorf("%q: got %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func FuzzParseHidePID(f *testing.F) {
	f.Add("rw,hidepid=invisible,gid=27")
	f.Fuzz(func(t *testing.T, s string) {
		h := ParseHidePID(s)
		if h.Level != 0 && h.Level != 1 && h.Level != 2 && h.Level != 4 || h.GID < 0 {
			t.Fatalf("%+v from %q", h, s)
		}
	})
}

func FuzzSELinuxType(f *testing.F) {
	f.Add("unconfined_u:object_r:default_t:s0")
	f.Add("?")
	f.Fuzz(func(t *testing.T, s string) {
		typ, ok := SELinuxType(s)
		if ok && (typ == "" || strings.ContainsAny(typ, " \t\n/:")) {
			t.Fatalf("%q from %q", typ, s)
		}
	})
}
