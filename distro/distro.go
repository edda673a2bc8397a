// Package distro tells which Linux distribution a host runs, how it installs packages, what
// the packages that fix rootless problems are called there, and the distro facts the probes
// need (which kernels allow overlay in user namespaces, which releases ship a sysctl that
// blocks them).
//
// Detection reads os-release (https://www.freedesktop.org/software/systemd/man/os-release.html)
// through the Host. A missing or garbage file gives FamilyUnknown, never an error that stops
// the doctor.
package distro

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/acobaugh/osrelease"

	"github.com/rootless-doctor/rootless-doctor/host"
)

// Family groups distributions that share a package manager and package names.
type Family string

// The families rootless-doctor knows.
const (
	FamilyDebian  Family = "debian" // Debian, Ubuntu, Mint, Raspberry Pi OS, Pop!_OS, Kali
	FamilyFedora  Family = "fedora" // Fedora, RHEL, CentOS, Rocky, Alma, Oracle, Amazon Linux
	FamilySUSE    Family = "suse"   // openSUSE Leap/Tumbleweed, SLES
	FamilyArch    Family = "arch"   // Arch, Manjaro, EndeavourOS
	FamilyAlpine  Family = "alpine" // Alpine
	FamilyUnknown Family = "unknown"
)

// PackageManager is the tool that installs packages.
type PackageManager string

// The package managers of the families.
const (
	Apt    PackageManager = "apt"
	Dnf    PackageManager = "dnf"
	Yum    PackageManager = "yum"
	Zypper PackageManager = "zypper"
	Pacman PackageManager = "pacman"
	Apk    PackageManager = "apk"
)

// Info is a detected distribution.
type Info struct {
	// ID, IDLike, VersionID, PrettyName and VersionCodename are the os-release fields.
	ID              string   `json:"id"`
	IDLike          []string `json:"id_like,omitempty"`
	VersionID       string   `json:"version_id"`
	PrettyName      string   `json:"pretty_name"`
	VersionCodename string   `json:"version_codename,omitempty"`
	// Family and PackageManager are derived; PackageManager is empty for FamilyUnknown.
	Family         Family         `json:"family"`
	PackageManager PackageManager `json:"package_manager,omitempty"`
	// Source is the file the fields came from; Problem says why detection failed, if it did.
	Source  string `json:"-"`
	Problem string `json:"-"`
}

// Unknown is the Info of an undetectable distribution.
func Unknown(problem string) Info {
	return Info{ID: "unknown", Family: FamilyUnknown, PrettyName: "unknown Linux", Problem: problem}
}

// osReleasePaths are read in this order, as the os-release man page says.
var osReleasePaths = []string{"/etc/os-release", "/usr/lib/os-release"}

// Detect reads os-release from the host.
func Detect(h host.Host) Info {
	var problems []string
	for _, p := range osReleasePaths {
		data, err := h.ReadFile(p)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				problems = append(problems, err.Error())
			}
			continue
		}
		info, err := Parse(data)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", p, err))
			continue
		}
		info.Source = p
		return info
	}
	if len(problems) == 0 {
		problems = append(problems, "no /etc/os-release or /usr/lib/os-release")
	}
	return Unknown(strings.Join(problems, "; "))
}

// ErrNoID is returned by Parse when os-release has no usable ID.
var ErrNoID = errors.New("os-release has no ID")

// Parse reads the content of an os-release file. It never panics; input that does not name a
// distribution gives ErrNoID.
func Parse(data []byte) (Info, error) {
	if !utf8.Valid(data) {
		return Info{}, errors.New("os-release is not UTF-8 text")
	}
	kv, err := osrelease.ReadString(string(data))
	if err != nil {
		return Info{}, fmt.Errorf("parsing os-release: %w", err)
	}
	get := func(k string) string { return unquote(kv[k]) }
	info := Info{
		ID:              strings.ToLower(get("ID")),
		VersionID:       get("VERSION_ID"),
		PrettyName:      get("PRETTY_NAME"),
		VersionCodename: get("VERSION_CODENAME"),
	}
	for _, like := range strings.Fields(strings.ToLower(get("ID_LIKE"))) {
		info.IDLike = append(info.IDLike, like)
	}
	if !validID(info.ID) {
		return Info{}, ErrNoID
	}
	if info.PrettyName == "" {
		info.PrettyName = strings.TrimSpace(get("NAME") + " " + info.VersionID)
	}
	info.Family = familyOf(info.ID, info.IDLike)
	info.PackageManager = managerOf(info)
	return info, nil
}

// unquote strips the one layer of quotes acobaugh/osrelease leaves on single-quoted values
// and undoes shell escapes, per os-release(5).
func unquote(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
	}
	if strings.Contains(v, `\`) {
		r := strings.NewReplacer(`\\`, `\`, `\"`, `"`, `\$`, `$`, "\\`", "`")
		v = r.Replace(v)
	}
	return v
}

// validID: os-release says ID is lower-case a–z, 0–9, ".", "_" and "-".
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

var familyByID = map[string]Family{
	"debian": FamilyDebian, "ubuntu": FamilyDebian, "linuxmint": FamilyDebian, "raspbian": FamilyDebian,
	"pop": FamilyDebian, "kali": FamilyDebian, "elementary": FamilyDebian, "zorin": FamilyDebian,
	"fedora": FamilyFedora, "rhel": FamilyFedora, "centos": FamilyFedora, "rocky": FamilyFedora,
	"almalinux": FamilyFedora, "ol": FamilyFedora, "amzn": FamilyFedora,
	"opensuse": FamilySUSE, "opensuse-leap": FamilySUSE, "opensuse-tumbleweed": FamilySUSE,
	"sles": FamilySUSE, "sled": FamilySUSE, "suse": FamilySUSE,
	"arch": FamilyArch, "manjaro": FamilyArch, "endeavouros": FamilyArch, "archarm": FamilyArch,
	"alpine": FamilyAlpine,
}

func familyOf(id string, like []string) Family {
	if f, ok := familyByID[id]; ok {
		return f
	}
	for _, l := range like {
		if f, ok := familyByID[l]; ok {
			return f
		}
	}
	return FamilyUnknown
}

func managerOf(i Info) PackageManager {
	switch i.Family {
	case FamilyDebian:
		return Apt
	case FamilyFedora:
		// RHEL/CentOS 7 and Amazon Linux 2 have only yum.
		if (i.Is("rhel", "centos", "ol") && i.Major() == 7) || (i.ID == "amzn" && i.Major() == 2) {
			return Yum
		}
		return Dnf
	case FamilySUSE:
		return Zypper
	case FamilyArch:
		return Pacman
	case FamilyAlpine:
		return Apk
	}
	return ""
}

// Is reports whether the ID is one of ids.
func (i Info) Is(ids ...string) bool {
	for _, id := range ids {
		if i.ID == id {
			return true
		}
	}
	return false
}

// Major is the first number of VERSION_ID, or -1.
func (i Info) Major() int {
	maj, _, _ := strings.Cut(i.VersionID, ".")
	n, err := strconv.Atoi(maj)
	if err != nil {
		return -1
	}
	return n
}

// Minor is the second number of VERSION_ID, or 0.
func (i Info) Minor() int {
	_, rest, ok := strings.Cut(i.VersionID, ".")
	if !ok {
		return 0
	}
	min, _, _ := strings.Cut(rest, ".")
	n, err := strconv.Atoi(min)
	if err != nil {
		return 0
	}
	return n
}

// AtLeast reports whether VERSION_ID is at least major.minor. An unknown version is not.
func (i Info) AtLeast(major, minor int) bool {
	m := i.Major()
	if m < 0 {
		return false
	}
	return m > major || m == major && i.Minor() >= minor
}
