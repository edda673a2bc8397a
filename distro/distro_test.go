package distro

import (
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/host"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in               string
		id, version            string
		family                 Family
		pm                     PackageManager
		ubuntu, clone, maxZero bool
		apparmorRestrict       bool
		wantErr                bool
	}{
		{name: "ubuntu 24.04", in: "NAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\nID=ubuntu\nID_LIKE=debian\nPRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\n",
			id: "ubuntu", version: "24.04", family: FamilyDebian, pm: Apt, ubuntu: true, apparmorRestrict: true},
		{name: "ubuntu 22.04", in: "ID=ubuntu\nVERSION_ID=\"22.04\"\n", id: "ubuntu", version: "22.04", family: FamilyDebian, pm: Apt, ubuntu: true},
		{name: "debian 10", in: "ID=debian\nVERSION_ID=\"10\"\n", id: "debian", version: "10", family: FamilyDebian, pm: Apt, clone: true},
		{name: "debian 12", in: "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n", id: "debian", version: "12", family: FamilyDebian, pm: Apt},
		{name: "centos 7", in: "ID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\n", id: "centos", version: "7", family: FamilyFedora, pm: Yum, maxZero: true},
		{name: "rhel 9", in: "ID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.4\"\n", id: "rhel", version: "9.4", family: FamilyFedora, pm: Dnf},
		{name: "rocky via ID_LIKE", in: "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\n", id: "rocky", version: "9.3", family: FamilyFedora, pm: Dnf},
		{name: "amazon linux 2", in: "ID=\"amzn\"\nVERSION_ID=\"2\"\n", id: "amzn", version: "2", family: FamilyFedora, pm: Yum},
		{name: "opensuse leap single quotes", in: "ID='opensuse-leap'\nID_LIKE='suse opensuse'\nVERSION_ID='15.6'\n", id: "opensuse-leap", version: "15.6", family: FamilySUSE, pm: Zypper},
		{name: "arch without version", in: "ID=arch\nBUILD_ID=rolling\n", id: "arch", family: FamilyArch, pm: Pacman},
		{name: "alpine", in: "ID=alpine\nVERSION_ID=3.20.3\n", id: "alpine", version: "3.20.3", family: FamilyAlpine, pm: Apk},
		{name: "unknown derivative", in: "ID=mystery\nID_LIKE=\"ubuntu debian\"\nVERSION_ID=1\n", id: "mystery", version: "1", family: FamilyDebian, pm: Apt, ubuntu: true},
		{name: "unknown distro", in: "ID=plan9\n", id: "plan9", family: FamilyUnknown},
		{name: "comments and blanks", in: "# comment\n\nID=fedora\nVERSION_ID=41\n", id: "fedora", version: "41", family: FamilyFedora, pm: Dnf},
		{name: "no ID", in: "NAME=Linux\n", wantErr: true},
		{name: "garbage", in: "\x00\x01\x02 === \n", wantErr: true},
		{name: "binary", in: "\xff\xfe\xfd", wantErr: true},
		{name: "injection in ID", in: "ID=\"ubuntu; rm -rf /\"\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got.ID != tt.id || got.VersionID != tt.version || got.Family != tt.family || got.PackageManager != tt.pm {
				t.Errorf("got %+v", got)
			}
			if got.UbuntuFamily() != tt.ubuntu || got.NeedsUnprivilegedUsernsClone() != tt.clone ||
				got.ShipsMaxUserNamespacesZero() != tt.maxZero || got.RestrictsUsernsViaAppArmor() != tt.apparmorRestrict {
				t.Errorf("facts: ubuntu=%v clone=%v maxZero=%v apparmor=%v", got.UbuntuFamily(),
					got.NeedsUnprivilegedUsernsClone(), got.ShipsMaxUserNamespacesZero(), got.RestrictsUsernsViaAppArmor())
			}
		})
	}
}

func TestDetect(t *testing.T) {
	if got := Detect(host.NewMemory().Host()); got.Family != FamilyUnknown || got.Problem == "" {
		t.Errorf("no os-release: %+v", got)
	}
	if got := Detect(host.NewMemory().File("/usr/lib/os-release", "ID=arch\n").Host()); got.ID != "arch" || got.Source != "/usr/lib/os-release" {
		t.Errorf("fallback: %+v", got)
	}
	if got := Detect(host.NewMemory().File("/etc/os-release", "garbage").File("/usr/lib/os-release", "ID=alpine\n").Host()); got.ID != "alpine" {
		t.Errorf("garbage then fallback: %+v", got)
	}
	if got := Detect(host.NewMemory().File("/etc/os-release", strings.Repeat("A", 200000)).Host()); got.Family != FamilyUnknown {
		t.Errorf("one huge line: %+v", got)
	}
}

func TestPackages(t *testing.T) {
	deb, _ := Parse([]byte("ID=debian\nVERSION_ID=12\n"))
	if p, _ := deb.Package(ToolNewuidmap); p != "uidmap" {
		t.Errorf("debian newuidmap = %q", p)
	}
	if got := strings.Join(deb.InstallCommand([]string{"uidmap", "slirp4netns", "uidmap"}), " "); got != "env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slirp4netns uidmap" {
		t.Errorf("apt install = %q", got)
	}
	c7, _ := Parse([]byte("ID=centos\nVERSION_ID=7\n"))
	if _, ok := c7.Package(ToolPasta); ok {
		t.Error("CentOS 7 has no passt package")
	}
	for _, fam := range []Family{FamilyDebian, FamilyFedora, FamilySUSE, FamilyArch, FamilyAlpine} {
		for _, tool := range []Tool{ToolNewuidmap, ToolSlirp4netns, ToolFuseOverlayfs, ToolIptables} {
			if _, ok := (Info{Family: fam}).Package(tool); !ok {
				t.Errorf("%s has no package for %s", fam, tool)
			}
		}
	}
	if (Info{Family: FamilyUnknown}).InstallCommand([]string{"x"}) != nil {
		t.Error("unknown distro must have no install command")
	}
}

// FuzzParse: any bytes give an Info or an error, never a panic, and an accepted ID is always
// a valid os-release ID (it ends up in file names and commands).
func FuzzParse(f *testing.F) {
	f.Add([]byte("ID=ubuntu\nVERSION_ID=\"24.04\"\n"))
	f.Add([]byte("ID='opensuse-leap'\nID_LIKE=\"suse opensuse\"\n"))
	f.Add([]byte("ID=\"a\\\"b\"\n"))
	f.Add([]byte("\x00=\x00\n=\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Parse(data)
		if err != nil {
			return
		}
		if !validID(info.ID) {
			t.Fatalf("accepted invalid ID %q", info.ID)
		}
		_ = info.Major()
		_ = info.AtLeast(24, 4)
	})
}
