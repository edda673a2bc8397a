package rootlesskit

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/rootless-containers/rootlesskit/v3/pkg/network"
	"github.com/rootless-containers/rootlesskit/v3/pkg/network/none"
	"github.com/rootless-containers/rootlesskit/v3/pkg/network/pasta"
	"github.com/rootless-containers/rootlesskit/v3/pkg/network/slirp4netns"
	"github.com/rootless-containers/rootlesskit/v3/pkg/parent"

	"github.com/rootless-doctor/rootless-doctor/checks/parse"
)

// Network drivers, as --net names them. NetHost is internal to the proof: its second start
// after a network failure runs without a network namespace so the other steps still get
// proven.
const (
	NetAuto        = "auto"
	NetSlirp4netns = "slirp4netns"
	NetPasta       = "pasta"
	NetGvisor      = "gvisor"
	NetNone        = "none"
	NetHost        = "host"
)

// NewNetDriver builds the parent side of the network driver named as --net names it. auto
// tries slirp4netns, then pasta, then the in-process gvisor-tap-vsock driver (needs no
// network binary), and returns the driver chosen and why the others were passed over.
// NetHost gives a nil driver (no network namespace). In a binary that does not link the
// gvisor-tap-vsock driver (LinkGvisor), choosing it gives ErrGvisorNotLinked: the role then
// hands itself to the helper binary (GvisorHelper, ExecHelper).
func NewNetDriver(name string) (chosen string, d network.ParentDriver, notes []string, err error) {
	switch name {
	case NetNone:
		d, err := none.NewParentDriver()
		return NetNone, d, nil, err
	case NetSlirp4netns:
		d, err := newSlirp4netns()
		return NetSlirp4netns, d, nil, err
	case NetPasta:
		d, err := newPasta()
		return NetPasta, d, nil, err
	case NetGvisor:
		d, err := newGvisor()
		return NetGvisor, d, nil, err
	case NetHost:
		return NetHost, nil, nil, nil
	}
	// auto
	if _, err := exec.LookPath("slirp4netns"); err != nil {
		notes = append(notes, "slirp4netns: not installed")
	} else if d, err := newSlirp4netns(); err != nil {
		notes = append(notes, "slirp4netns: "+err.Error())
	} else {
		return NetSlirp4netns, d, notes, nil
	}
	if ok, why := pastaUsable(); !ok {
		notes = append(notes, "pasta: "+why)
	} else if d, err := newPasta(); err != nil {
		notes = append(notes, "pasta: "+err.Error())
	} else {
		return NetPasta, d, notes, nil
	}
	d, err = newGvisor()
	return NetGvisor, d, notes, err
}

// ChildNetDriver is the child side of the driver NewNetDriver chose: nil for none (the
// parent's none driver configures loopback through nsenter) and for host (no netns).
func ChildNetDriver(chosen string) network.ChildDriver {
	switch chosen {
	case NetSlirp4netns:
		return slirp4netns.NewChildDriver()
	case NetPasta:
		return pasta.NewChildDriver()
	case NetGvisor:
		// The parent role that chose gvisor links it, and the rk child is that binary.
		if gvisorChild != nil {
			return gvisorChild()
		}
	}
	return nil
}

func newSlirp4netns() (network.ParentDriver, error) {
	// disableHostLoopback: the namespace must not reach the host's 127.0.0.1 (what
	// dockerd-rootless.sh passes). No sandbox: it needs pivot_root, which fails on initramfs
	// roots (docs/failures/catalogue.json#slirp4netns-sandbox-pivot-root, which net.driver
	// reads statically), and Podman and Docker 29.5 and later run without it. Seccomp as the
	// engines run it: RootlessKit's --slirp4netns-seccomp=auto (dockerd-rootless.sh's default)
	// and Podman both enable it whenever slirp4netns and the kernel support it, and a
	// slirp4netns whose filter the kernel rejects exits with `enable_seccomp failed`
	// (docs/failures/catalogue.json#slirp4netns-seccomp-fails).
	return slirp4netns.NewParentDriver(LogWriter("network/slirp4netns"), "slirp4netns", 0, nil, "", true, "", false, slirpSeccomp(), false)
}

// slirpSeccomp is RootlessKit's "auto" for --slirp4netns-seccomp (cmd/rootlesskit/main.go):
// on when slirp4netns has --enable-seccomp and the kernel has seccomp filters.
func slirpSeccomp() bool {
	f, err := slirp4netns.DetectFeatures("slirp4netns")
	return err == nil && f.SupportsEnableSeccomp && f.KernelSupportsEnableSeccomp
}

func newPasta() (network.ParentDriver, error) {
	return pasta.NewParentDriver(LogWriter("network/pasta"), "pasta", 0, nil, "", "", true, false, false)
}

// The gvisor-tap-vsock driver, when this binary links it (LinkGvisor).
var gvisorParent func() (network.ParentDriver, error)
var gvisorChild func() network.ChildDriver

// LinkGvisor makes the gvisor-tap-vsock driver available to NewNetDriver and ChildNetDriver.
// Only runtime/rootlesskit/gvisor calls it, for the binaries that link it: the helper
// cmd/rootless-doctor-gvisor and the tests of the runtime. rootless-doctor itself does not
// (issue 16): the driver's packages (gvisor-tap-vsock, gopacket/layers, x/crypto/ssh,
// miekg/dns, gVisor's stack) cost about 4.5 ms of package initialisation and 2,000 page faults
// at every start of the binary, for a network only `--net gvisor` and auto's last resort use.
func LinkGvisor(parent func() (network.ParentDriver, error), child func() network.ChildDriver) {
	gvisorParent, gvisorChild = parent, child
}

// ErrGvisorNotLinked is NewNetDriver's error for the gvisor-tap-vsock driver in a binary that
// does not link it.
var ErrGvisorNotLinked = errors.New("the gvisor-tap-vsock network is not linked into this binary")

func newGvisor() (network.ParentDriver, error) {
	if gvisorParent == nil {
		return nil, ErrGvisorNotLinked
	}
	return gvisorParent()
}

// GvisorHelperName is the binary, installed beside rootless-doctor, that links the
// gvisor-tap-vsock driver and plays the proof's and the daemon's roles with it.
const GvisorHelperName = "rootless-doctor-gvisor"

// ErrNoGvisorHelper says that the gvisor-tap-vsock network is neither linked nor installed.
var ErrNoGvisorHelper = errors.New("the gvisor-tap-vsock network runs in " + GvisorHelperName + ", which is not installed beside this binary")

// GvisorHelper is the binary that runs the gvisor-tap-vsock network: "" when this binary links
// it, else GvisorHelperName in the directory of this binary (where `make install` and
// `go build -o DIR/ ./cmd/rootless-doctor ./cmd/rootless-doctor-gvisor` put it; never a lookup in PATH, whose entry could be another
// build's). The error, ErrNoGvisorHelper, says where it was looked for and how to get it.
func GvisorHelper() (string, error) {
	if gvisorParent != nil {
		return "", nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoGvisorHelper, err)
	}
	p := filepath.Join(filepath.Dir(self), GvisorHelperName)
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%w: no executable %s (`make install` installs both; `go build -o DIR/ ./cmd/rootless-doctor ./cmd/rootless-doctor-gvisor` builds both into DIR)", ErrNoGvisorHelper, p)
	}
	return p, nil
}

// ExecHelper replaces this process, a role that found it needs the gvisor-tap-vsock driver,
// with the same role in the helper binary: same arguments, environment, process id, process
// group and descriptors (the proof's log on fd 2), so that whoever started the role sees
// nothing but the helper's work. It returns only on failure.
func ExecHelper(helper string) error {
	return syscall.Exec(helper, append([]string{helper}, os.Args[1:]...), os.Environ())
}

// pastaUsable says whether auto may pick the pasta on PATH (see PastaUsable).
func pastaUsable() (bool, string) {
	bin, err := exec.LookPath("pasta")
	if err != nil {
		return false, "not installed"
	}
	out, _ := exec.Command(bin, "--version").CombinedOutput()
	return PastaUsable(out)
}

// PastaUsable says whether auto may pick a pasta whose `pasta --version` printed out:
// rootlesskit's pasta driver is experimental and needs passt 2023_12_04 or later
// (docs/failures/catalogue.json#pasta-version-incompatible). The version is read by the parser
// net.driver uses (parse.ParsePastaVersion), so the proof and the probe agree: the upstream
// spelling and the Fedora (0^20231204.…) and Debian (0.0~git20231204.…) package versions are
// all dates; a build that prints "pasta unknown version" (Debian 12) is passed over, and the
// gvisor driver used instead. Before issue 11 the proof had a regexp of its own that read only
// the upstream spelling, so `prove --net auto` skipped pastas net.driver called usable.
func PastaUsable(out []byte) (bool, string) {
	v, err := parse.ParsePastaVersion(out)
	if err != nil {
		first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return false, fmt.Sprintf("version not known (%q); rootlesskit needs %s or later", first, parse.PastaMinRootlesskit)
	}
	if v.Date.Before(parse.PastaMinRootlesskit) {
		return false, fmt.Sprintf("%s is older than %s", v.Date, parse.PastaMinRootlesskit)
	}
	return true, ""
}

// SubidSource picks rootlesskit's subordinate id source. Its default, auto, first runs
// getsubids (twice per map: by name, then by uid) and falls back to /etc/subuid; getsubids
// only knows more than the files when the subid: line of nsswitch.conf names a module (SSSD,
// FreeIPA). Without one the static source gives the same ranges without four execs. The line
// is read as shadow reads it (parse.SubIDModule, the reading idmap.subuid uses): before issue
// 11 any line starting "subid:" chose auto, "subid: files" included.
func SubidSource() parent.SubidSource {
	b, err := os.ReadFile("/etc/nsswitch.conf")
	if err != nil {
		return parent.SubidSourceAuto
	}
	if m, _ := parse.SubIDModule(b); m != "" {
		return parent.SubidSourceAuto
	}
	return parent.SubidSourceStatic
}
