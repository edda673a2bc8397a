package checks

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

// wslUsersMax bounds how many Windows profiles virt.wsl looks into for a .wslconfig: a
// machine has a handful; a huge directory must not make the doctor read without end.
const wslUsersMax = 64

var virtWSL = Probe{
	ID:    "virt.wsl",
	Title: "Windows Subsystem for Linux",
	Fails: "WSL 1, which has no Linux kernel (fail); WSL 2 with mirrored networking, where published ports are not reachable on 127.0.0.1 (warn)",
	Why: "WSL 1 translates Linux system calls on the Windows kernel: there are no user namespaces, " +
		"cgroups or overlayfs, so every rootless engine fails (`failed to create namespace: " +
		"permission denied`, `'overlay' is not supported over <unknown>`; podman#8826, podman#3000; " +
		"docs/failures/catalogue.json#wsl1-no-container-support). WSL 2 runs a real kernel, but with " +
		"networkingMode=mirrored in the Windows account's .wslconfig (WSL 2.0 and later) WSL answers " +
		"loopback traffic itself, and connections to 127.0.0.1:<published port> do not reach the " +
		"rootless port forwarder (microsoft/WSL#13868, microsoft/WSL#11136; " +
		"docs/failures/catalogue.json#wsl2-mirrored-networking-loopback).",
	Reads: []string{"uname -r", "/proc/version", "/etc/wsl.conf ([automount] root)",
		"<automount root>/c/Users/*/.wslconfig ([wsl2] networkingMode)"},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runVirtWSL,
}

func runVirtWSL(_ context.Context, e *facts.Env) finding.Result {
	isWSL, ev := wsl(e)
	if !isWSL {
		return finding.Skipf("not a WSL distribution (the kernel does not say Microsoft)")
	}
	r := finding.Result{}.With(ev.Source, ev.Value)
	if wslVersion(e) == 1 {
		return r.WithStatus(finding.Fail, "this is WSL 1, which has no Linux kernel: no user namespaces, cgroups or overlayfs for a rootless engine").
			Detail("WSL 1 kernels call themselves \"Microsoft\"; WSL 2 runs a real Linux kernel (\"microsoft-standard-WSL2\"). Podman and Docker fail with `failed to create namespace: permission denied` (podman#8826).").
			Fix(finding.ManualStep("wsl-version", "convert the distribution to WSL 2 from Windows: wsl --set-version <distro> 2 (wsl -l -v lists the distributions and their versions)"))
	}
	cfg, mode := wslMirrored(e)
	if cfg == "" {
		return r.WithStatus(finding.Pass, "WSL 2, a real Linux kernel; no .wslconfig asks for mirrored networking")
	}
	r = r.With(cfg, "networkingMode="+mode)
	return r.WithStatus(finding.Warn, "WSL 2 with networkingMode=%s (%s): ports published by rootless containers may not answer on 127.0.0.1", mode, cfg).
		Detail("In mirrored mode WSL handles loopback traffic itself; a connection to 127.0.0.1:<published port> inside the distribution does not reach RootlessKit's or pasta's port forwarder, while the interface address and Windows reach it (microsoft/WSL#13868, microsoft/WSL#11136).").
		Detail("`rootless-doctor prove` publishes a port on 127.0.0.1 (runtime.port) and shows whether this machine is affected.").
		Fix(finding.ManualStep("wsl-networking", fmt.Sprintf("use the distribution's interface address instead of localhost for published ports, or set networkingMode=nat under [wsl2] in %s and run wsl --shutdown from Windows", cfg)))
}

// wslMirrored finds the first Windows profile whose .wslconfig sets [wsl2] networkingMode to
// mirrored, under the drive mount root of /etc/wsl.conf ([automount] root, default /mnt/,
// https://learn.microsoft.com/windows/wsl/wsl-config). "" when none does.
func wslMirrored(e *facts.Env) (file, mode string) {
	root := "/mnt/"
	if data, err := e.Host.ReadFile("/etc/wsl.conf"); err == nil {
		opts, _ := parse.ParseConf(data)
		for _, o := range opts {
			if strings.EqualFold(o.Section, "automount") && strings.EqualFold(o.Name, "root") && path.IsAbs(strings.TrimSpace(o.Value)) {
				root = strings.TrimSpace(o.Value)
			}
		}
	}
	users := path.Join(root, "c/Users")
	ents, err := e.Host.ReadDir(users)
	if err != nil {
		return "", ""
	}
	for i, ent := range ents {
		if i >= wslUsersMax {
			break
		}
		if !ent.IsDir() {
			continue
		}
		f := path.Join(users, ent.Name(), ".wslconfig")
		data, err := e.Host.ReadFile(f)
		if err != nil {
			continue
		}
		// .wslconfig is an INI file; a line go-systemd cannot read ends the options it returns,
		// as WSL also ignores what it cannot parse.
		opts, _ := parse.ParseConf(data)
		for _, o := range opts {
			if strings.EqualFold(o.Section, "wsl2") && strings.EqualFold(o.Name, "networkingMode") && strings.EqualFold(strings.TrimSpace(o.Value), "mirrored") {
				return f, strings.TrimSpace(o.Value)
			}
		}
	}
	return "", ""
}
