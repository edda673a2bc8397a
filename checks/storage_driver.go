package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

var storageDriver = Probe{
	ID:    "storage.driver",
	Title: "Storage driver",
	Fails: "only vfs usable (warn); names the driver that will be used",
	Why: "Images are stacks of layers. A rootless engine can stack them cheaply only with overlayfs " +
		"mounted inside its user namespace (kernel 5.11 or later, or Ubuntu's patched kernels), with " +
		"fuse-overlayfs (kernel 4.18 or later, the binary and a usable /dev/fuse), or with btrfs " +
		"subvolumes when the data root is on btrfs. Without any of them it falls back to vfs, which " +
		"copies every layer in full: pulls and builds are slow and the disk fills up.",
	Reads: []string{
		"the kernel release and the distribution",
		"/sys/module/overlay/parameters/permit_mounts_in_userns (Debian)",
		"/sys/fs/selinux/enforce",
		"fuse-overlayfs on PATH, /dev/fuse",
		"~/.config/docker/daemon.json (storage-driver), the Docker data root and its filesystem",
	},
	Fixes: []finding.Kind{finding.Package, finding.Module, finding.Device, finding.Manual},
	Run:   runStorageDriver,
}

// Paths storage.driver reads.
const (
	permitMountsPath = "/sys/module/overlay/parameters/permit_mounts_in_userns"
	selinuxEnforce   = "/sys/fs/selinux/enforce"
	fuseDevice       = "/dev/fuse"
)

// fuseMajor and fuseMinor are the device numbers of /dev/fuse (Documentation/admin-guide/devices.txt).
const fuseMajor, fuseMinor = 10, 229

// dockerDrivers are the graph drivers of dockerd in the order it tries them on a new data
// root (moby daemon/graphdriver/driver_linux.go: "overlay2,fuse-overlayfs,btrfs,zfs,vfs").
// zfs needs root and never works rootless.
var dockerDrivers = []string{"overlay2", "fuse-overlayfs", "btrfs", "zfs", "vfs"}

// storageDriverFacts is what decides which driver rootless dockerd will use.
type storageDriverFacts struct {
	kernel parse.KernelVersion
	// native: overlayfs can be mounted in the user namespace; nativeWhy says why,
	// nativeNo why not. nativeUnstable marks Debian's permit_mounts_in_userns on a kernel
	// before 5.11.
	native         bool
	nativeUnstable bool
	nativeWhy      string
	nativeNo       string
	// selinux is "enforcing", "permissive" or "" (disabled or absent).
	selinux string
	// dockerInstalled: dockerd or dockerd-rootless.sh is on PATH.
	dockerInstalled bool
	// fuse: fuse-overlayfs can work; fuseNo lists what is missing.
	fuse          bool
	fuseNo        []string
	fuseBinary    bool
	fuseDevice    string // "ok", "missing", "wrong", "denied"
	btrfs         bool
	btrfsNo       string
	root          facts.DataRoot
	priors        []string
	usable        map[string]bool
	unusableWhy   map[string]string
	overlayReason string // why Docker does not use native overlay, when it does not
}

func runStorageDriver(_ context.Context, e *facts.Env) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	k, err := e.Kernel()
	if err != nil {
		return finding.Undecided(err, "cannot parse the kernel release %q", e.Host.KernelRelease())
	}
	r := finding.Result{}.With("uname -r", k.Release)
	f := storageDriverFacts{kernel: k}
	r = f.readNative(e, r)
	r = f.readFuse(e, r)
	r = f.readDocker(e, r)
	return f.decide(e, r)
}

// readNative decides whether overlayfs can be mounted in an unprivileged user namespace.
func (f *storageDriverFacts) readNative(e *facts.Env, r finding.Result) finding.Result {
	k := f.kernel
	kv := fmt.Sprintf("kernel %d.%d", k.Major, k.Minor)
	switch data, err := e.Host.ReadFile(selinuxEnforce); {
	case err == nil:
		switch strings.TrimSpace(string(data)) {
		case "1":
			f.selinux = "enforcing"
		case "0":
			f.selinux = "permissive"
		default:
			// selinuxfs is mounted, so SELinux is on; the mode is unclear.
			f.selinux = "enabled"
		}
		r = r.With(selinuxEnforce, strings.TrimSpace(string(data)))
	case !errors.Is(err, fs.ErrNotExist):
		r = r.Detail("cannot read %s: %v", selinuxEnforce, err)
	}
	switch {
	// Upstream allows overlayfs in user namespaces since 5.11 (commit 459c7c565ac3,
	// "ovl: unprivieged mounts").
	case k.AtLeast(5, 11):
		f.native, f.nativeWhy = true, "native overlay in user namespaces, "+kv
	// Ubuntu has carried a patch since 2015 (distro.PatchedOverlayInUserNS).
	case e.Distro.PatchedOverlayInUserNS(k.Release):
		f.native, f.nativeWhy = true, "Ubuntu's kernel patch for overlay in user namespaces, "+kv
	default:
		f.nativeNo = kv + " is older than 5.11 and has no distribution patch for overlay in user namespaces"
		// Debian's kernels have an opt-in module parameter; the path it takes is unstable for
		// layer extraction (rootless-containers/rootlesskit#154, moby/moby#42302).
		data, err := e.Host.ReadFile(permitMountsPath)
		if err == nil {
			r = r.With(permitMountsPath, strings.TrimSpace(string(data)))
			if on, perr := parse.ParseModuleBool(data); perr == nil && on {
				f.native, f.nativeUnstable = true, true
				f.nativeWhy = "Debian's permit_mounts_in_userns, " + kv
			} else if perr != nil {
				r = r.Detail("%s: %v", permitMountsPath, perr)
			}
		}
	}
	return r
}

// readFuse decides whether fuse-overlayfs can work: kernel 4.18 or later (FUSE mounts in
// user namespaces), the binary, and /dev/fuse readable and writable by the account
// (docs/failures/catalogue.json#fuse-device-missing).
func (f *storageDriverFacts) readFuse(e *facts.Env, r finding.Result) finding.Result {
	if !f.kernel.AtLeast(4, 18) {
		f.fuseNo = append(f.fuseNo, fmt.Sprintf("kernel %d.%d cannot mount FUSE in a user namespace (4.18 or later can)", f.kernel.Major, f.kernel.Minor))
	}
	if p, err := e.Host.LookPath("fuse-overlayfs"); err == nil {
		f.fuseBinary = true
		r = r.With("fuse-overlayfs", p)
	} else {
		f.fuseNo = append(f.fuseNo, "fuse-overlayfs is not installed")
	}
	fi, err := e.Host.Stat(fuseDevice)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		f.fuseDevice = "missing"
		f.fuseNo = append(f.fuseNo, "there is no /dev/fuse (the fuse module is not loaded, or a container was started without --device /dev/fuse)")
	case err != nil:
		f.fuseDevice = "denied"
		f.fuseNo = append(f.fuseNo, fmt.Sprintf("cannot stat /dev/fuse: %v", err))
	default:
		r = r.With(fuseDevice, fmt.Sprintf("%s %d,%d mode %04o owner %d:%d", host.ModeKind(fi.Mode), fi.Major, fi.Minor, fi.Mode.Perm(), fi.UID, fi.GID))
		switch {
		case !fi.IsCharDevice() || fi.Major != fuseMajor || fi.Minor != fuseMinor:
			f.fuseDevice = "wrong"
			f.fuseNo = append(f.fuseNo, fmt.Sprintf("/dev/fuse is not the FUSE device (a character device %d,%d)", fuseMajor, fuseMinor))
		case !e.CanReadWrite(fi):
			f.fuseDevice = "denied"
			f.fuseNo = append(f.fuseNo, fmt.Sprintf("/dev/fuse is mode %04o owned by %d:%d: %s cannot open it", fi.Mode.Perm(), fi.UID, fi.GID, e.User.Name))
		default:
			f.fuseDevice = "ok"
		}
	}
	f.fuse = len(f.fuseNo) == 0
	return r
}

// readDocker reads what makes dockerd deviate from its priority list: its data root (whose
// filesystem limits the drivers), a configured storage-driver, and state left by a driver
// used before (dockerd keeps using it: "[graphdriver] using prior storage driver").
func (f *storageDriverFacts) readDocker(e *facts.Env, r finding.Result) finding.Result {
	_, errD := e.Host.LookPath("dockerd")
	_, errR := e.Host.LookPath("dockerd-rootless.sh")
	f.dockerInstalled = errD == nil || errR == nil
	f.root = e.DockerDataRoot()
	r.Evidence = append(r.Evidence, f.root.Evidence...)
	if f.root.Exists() {
		for _, name := range dockerDrivers {
			p := path.Join(f.root.Path, name)
			if ents, err := e.Host.ReadDir(p); err == nil && len(ents) > 0 {
				f.priors = append(f.priors, name)
				r = r.With(p, fmt.Sprintf("%d entries", len(ents)))
			}
		}
	}

	if f.root.FSType == "overlay" && f.native {
		// overlayfs cannot be the upper layer of another overlay (moby overlay2 refuses
		// overlay as the backing filesystem).
		f.native, f.nativeUnstable = false, false
		f.nativeNo = "the data root is on overlayfs, which cannot hold another overlay's upper layer"
	}
	k := f.kernel
	switch {
	case f.root.FSType != "btrfs":
		f.btrfsNo = "the data root is not on btrfs"
	case !k.AtLeast(4, 18) && !subvolRmAllowed(e.MountOf(f.root.Existing)):
		f.btrfsNo = fmt.Sprintf("kernel %d.%d cannot delete btrfs subvolumes unprivileged (4.18 or later, or the user_subvol_rm_allowed mount option)", k.Major, k.Minor)
	default:
		f.btrfs = true
	}

	dockerNative := f.native
	f.overlayReason = f.nativeNo
	if f.native && f.selinux != "" && f.dockerInstalled {
		// dockerd-rootless.sh sets _DOCKERD_ROOTLESS_SELINUX=1 when selinuxenabled succeeds,
		// and overlay2 then refuses ("overlay is not supported for Rootless with SELinux"),
		// since Docker 20.10.8 (moby/moby#42333, moby/moby#42334).
		dockerNative = false
		f.overlayReason = "SELinux is on, and rootless dockerd turns overlay2 off with SELinux (moby/moby#42333)"
	}
	f.usable = map[string]bool{"overlay2": dockerNative, "fuse-overlayfs": f.fuse, "btrfs": f.btrfs, "vfs": true}
	f.unusableWhy = map[string]string{
		"overlay2":       f.overlayReason,
		"fuse-overlayfs": strings.Join(f.fuseNo, "; "),
		"btrfs":          f.btrfsNo,
		"zfs":            "the zfs driver needs root",
	}
	return r
}

// decide names the driver rootless dockerd will use and judges it.
func (f *storageDriverFacts) decide(e *facts.Env, r finding.Result) finding.Result {
	daemonJSON := homeRel(e, f.root.ConfigFile)
	setDriverFix := func(driver string) finding.Intent {
		return finding.ManualStep("docker-storage-driver", fmt.Sprintf(`set "storage-driver": %q in %s and restart the rootless dockerd`, driver, f.root.ConfigFile))
	}

	chosen, from := "", ""
	switch {
	case f.root.Driver != "":
		chosen, from = f.root.Driver, daemonJSON
		if !f.usable[chosen] {
			why := f.unusableWhy[chosen]
			if why == "" {
				why = "rootless dockerd has no such driver"
			}
			res := r.WithStatus(finding.Fail, "%s selects storage-driver %q, which cannot work here: %s", daemonJSON, chosen, why).
				Detail("dockerd exits at start when the configured driver fails (`error initializing graphdriver`).")
			if best := f.best(); best != "vfs" {
				return res.Detail("Remove the setting to let dockerd pick %s.", best).
					Fix(finding.ManualStep("docker-storage-driver", fmt.Sprintf(`remove "storage-driver" from %s (dockerd then picks %s) and restart the rootless dockerd`, f.root.ConfigFile, best)))
			}
			return res.Fix(f.vfsFixes(e)...)
		}
	case len(f.priors) > 1:
		return r.WithStatus(finding.Warn, "%s holds the state of several storage drivers (%s): dockerd refuses to choose", homeRel(e, f.root.Path), strings.Join(f.priors, ", ")).
			Detail("dockerd stops with `contains several valid graphdrivers` when more than one driver directory is in its data root; remove the unused ones or name the driver in %s.", daemonJSON).
			Fix(finding.ManualStep("docker-storage-driver", fmt.Sprintf(`remove the unused driver directories from %s, or set "storage-driver" in %s`, f.root.Path, f.root.ConfigFile)))
	case len(f.priors) == 1:
		chosen, from = f.priors[0], "existing state in "+homeRel(e, path.Join(f.root.Path, f.priors[0]))
		if !f.usable[chosen] {
			return r.WithStatus(finding.Fail, "rootless dockerd will not start: %s holds %s state, and %s cannot work here: %s", homeRel(e, f.root.Path), chosen, chosen, f.unusableWhy[chosen]).
				Detail("dockerd keeps using the driver whose state it finds and exits when that driver fails (`prior storage driver %s failed`).", chosen).
				Fix(finding.ManualStep("docker-storage-driver", fmt.Sprintf(`remove %s (its images are lost) or set "storage-driver" in %s to a driver that works here (%s)`, path.Join(f.root.Path, chosen), f.root.ConfigFile, f.best())))
		}
	default:
		chosen = f.best()
	}

	// Why not overlay2, for the drivers that come after it.
	because := f.overlayReason
	if from != "" {
		because = "from " + from
	}
	var res finding.Result
	switch chosen {
	case "overlay2":
		if f.nativeUnstable {
			res = r.WithStatus(finding.Warn, "overlay2 through Debian's permit_mounts_in_userns on kernel %d.%d: unstable, fuse-overlayfs is safer", f.kernel.Major, f.kernel.Minor).
				Detail("The Debian-only overlay option lets overlay2 mount before kernel 5.11, but layer extraction then fails at random with `replaceDirWithOverlayOpaque … input/output error` (rootless-containers/rootlesskit#154, moby/moby#42302). Docker's docs call it highly discouraged.")
			if !f.fuseBinary {
				res = res.Fix(finding.InstallTool(string(distro.ToolFuseOverlayfs), "fuse-overlayfs is the stable copy-on-write driver before kernel 5.11"))
			}
			res = res.Fix(setDriverFix("fuse-overlayfs"))
		} else {
			res = r.WithStatus(finding.Pass, "overlay2 (%s)", f.nativeWhy)
		}
	case "fuse-overlayfs":
		res = r.WithStatus(finding.Pass, "fuse-overlayfs (%s)", because).
			Detail("fuse-overlayfs works, at some CPU cost; native overlay (kernel 5.11 or later) is faster.")
	case "btrfs":
		res = r.WithStatus(finding.Pass, "btrfs (%s)", because).
			Detail("The data root is on btrfs. See storage.data-root for deleting btrfs subvolumes without root (user_subvol_rm_allowed).")
	case "vfs":
		if from != "" {
			res = r.WithStatus(finding.Warn, "vfs (from %s): every layer is a full copy: slow, disk-hungry", from)
			if best := f.best(); best != "vfs" {
				res = res.Detail("%s would work here.", best).Fix(setDriverFix(best))
			} else {
				res = res.Fix(f.vfsFixes(e)...)
			}
		} else {
			res = r.WithStatus(finding.Warn, "only vfs: every layer is a full copy: slow, disk-hungry").Fix(f.vfsFixes(e)...)
		}
		for _, d := range []string{"overlay2", "fuse-overlayfs"} {
			if !f.usable[d] {
				res = res.Detail("%s: %s.", d, f.unusableWhy[d])
			}
		}
	default:
		res = r.WithStatus(finding.Pass, "%s (from %s)", chosen, from)
	}
	if best := f.best(); from != "" && chosen != best {
		res = res.Detail("Without it dockerd would pick %s.", best)
	}
	if f.native && f.selinux != "" && !f.dockerInstalled {
		res = res.Detail("SELinux is on: rootless Docker, if installed, would not use native overlay2 (moby/moby#42333) and would need fuse-overlayfs; podman uses native overlay.")
	}
	return f.earlyNativeBugs(res)
}

// best is the first driver of dockerd's priority list that works here.
func (f *storageDriverFacts) best() string {
	for _, d := range dockerDrivers {
		if f.usable[d] {
			return d
		}
	}
	return "vfs"
}

// vfsFixes are what gets a copy-on-write driver when only vfs is left.
func (f *storageDriverFacts) vfsFixes(e *facts.Env) []finding.Intent {
	if !f.kernel.AtLeast(4, 18) {
		return []finding.Intent{finding.ManualStep("upgrade-kernel", "upgrade to kernel 5.11 or later for native overlay in user namespaces (4.18 or later for fuse-overlayfs)")}
	}
	var in []finding.Intent
	if !f.fuseBinary {
		in = append(in, finding.InstallTool(string(distro.ToolFuseOverlayfs), "fuse-overlayfs gives rootless engines a copy-on-write storage driver"))
	}
	switch f.fuseDevice {
	case "missing":
		in = append(in, finding.LoadModule("fuse", "fuse-overlayfs needs /dev/fuse (in a container: start it with --device /dev/fuse)"))
	case "denied":
		in = append(in, finding.DeviceMode(fuseDevice, "0666", fmt.Sprintf("fuse-overlayfs needs /dev/fuse readable and writable by %s (0666 is its usual mode)", e.User.Name)))
	case "wrong":
		in = append(in, finding.ManualStep("fuse-device", fmt.Sprintf("recreate /dev/fuse as the character device %d,%d (mknod /dev/fuse c 10 229, mode 0666)", fuseMajor, fuseMinor)))
	}
	return in
}

// earlyNativeBugs flags native overlay on the first kernels that allowed it with SELinux
// enforcing: mkdir in merged directories fails with permission denied, renames need
// userxattr (Fedora 34, kernel 5.11/5.12: moby/moby#42333, containers/storage#863,
// containers/fuse-overlayfs#328). Fixed in 5.13.
func (f *storageDriverFacts) earlyNativeBugs(r finding.Result) finding.Result {
	k := f.kernel
	if !f.native || f.selinux != "enforcing" || !k.AtLeast(5, 11) || k.AtLeast(5, 13) {
		return r
	}
	msg := fmt.Sprintf("native overlay on kernel %d.%d with SELinux enforcing has early bugs (mkdir in containers fails with permission denied)", k.Major, k.Minor)
	if r.Status == finding.Pass {
		r = r.WithStatus(finding.Warn, "%s; but %s", r.Summary, msg)
	} else {
		r = r.Detail("Also: %s.", msg)
	}
	return r.Detail("Kernel 5.13 fixed overlay with SELinux in user namespaces; until then use fuse-overlayfs (containers/storage#863, moby/moby#42333).").
		Fix(finding.ManualStep("upgrade-kernel", "upgrade to kernel 5.13 or later"))
}
