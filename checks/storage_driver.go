package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/moby/sys/mountinfo"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

var storageDriver = Probe{
	ID:     "storage.driver",
	Starts: true,
	Title:  "Storage driver",
	Fails:  "the configured driver or mount program cannot work (fail); only vfs, or a driver with known breakage here (warn); names the driver rootless dockerd and podman will use",
	Why: "Images are stacks of layers. A rootless engine can stack them cheaply only with overlayfs " +
		"mounted inside its user namespace (kernel 5.11 or later, or Ubuntu's patched kernels), with " +
		"fuse-overlayfs (kernel 4.18 or later, the binary and a usable /dev/fuse), or with btrfs " +
		"subvolumes when the data root is on btrfs. Without any of them it falls back to vfs, which " +
		"copies every layer in full: pulls and builds are slow and the disk fills up. The data " +
		"root's filesystem must be able to hold an overlay upper layer (not overlayfs, ecryptfs, " +
		"ZFS before 2.2, or XFS without d_type), and a configured driver or mount program that " +
		"cannot work stops the engine at start (docs/failures/catalogue.json#overlay-unsupported-kernel, " +
		"#fuse-device-missing, #storage-on-zfs, #storage-on-ecryptfs, #storage-on-overlayfs, " +
		"#xfs-without-ftype, #storage-conf-mount-program-missing, #storage-conf-metacopy-rootless, " +
		"#silent-vfs-fallback, #ubuntu-kernel-native-overlay-pre-5-11, #btrfs-subvolume-delete; " +
		"https://docs.docker.com/engine/security/rootless/troubleshoot/, containers-storage.conf(5)).",
	Reads: []string{
		"the kernel release and the distribution",
		"/sys/module/overlay/parameters/permit_mounts_in_userns (Debian)",
		"/sys/fs/selinux/enforce",
		"fuse-overlayfs on PATH, /dev/fuse",
		"~/.config/docker/daemon.json (storage-driver), the Docker data root and its filesystem",
		"podman's storage.conf files (driver, mount_program, mountopt; with Podman 6 also the storage.conf.d and storage.rootless.conf.d drop-ins), $STORAGE_DRIVER; the graphroot's *-images directories and overlay/.has-mount-program",
		"/proc/self/mountinfo (the data roots' mounts); /sys/module/zfs/version; `xfs_info MOUNTPOINT` (ftype); /sys/fs/btrfs/*/devices, /sys/fs/btrfs/*/qgroups (btrfs quotas)",
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
	ctx    context.Context
	kernel parse.KernelVersion
	// native: overlayfs can be mounted in the user namespace; nativeWhy says why,
	// nativeNo why not. nativeUnstable marks Debian's permit_mounts_in_userns on a kernel
	// before 5.11.
	native         bool
	nativeUnstable bool
	dockerUnstable bool // nativeUnstable, and Docker's data root can hold overlay2
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
	backing       backingFS // can the Docker data root hold an overlay upper layer
	priors        []string
	usable        map[string]bool
	unusableWhy   map[string]string
	overlayReason string // why Docker does not use native overlay, when it does not
}

func runStorageDriver(ctx context.Context, e *facts.Env) finding.Result {
	return judgeStorageDrivers(ctx, e, true)
}

// storageDriverDocker is storage.driver's verdict on rootless dockerd's driver alone:
// engine.docker folds in this part (EngineParts), podman's is engine.podman's.
func storageDriverDocker(ctx context.Context, e *facts.Env) finding.Result {
	return judgeStorageDrivers(ctx, e, false)
}

func judgeStorageDrivers(ctx context.Context, e *facts.Env, withPodman bool) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	k, err := e.Kernel()
	if err != nil {
		return finding.Undecided(err, "cannot parse the kernel release %q", e.Host.KernelRelease())
	}
	r := finding.Result{}.With("uname -r", k.Release)
	f := storageDriverFacts{ctx: ctx, kernel: k}
	r = f.readNative(e, r)
	r = f.readFuse(e, r)
	r = f.readDocker(e, r)
	res := f.decide(e, r)
	if d, ok := e.PodmanDataRoot(); ok && withPodman {
		res = mergeResults([]finding.Result{res, f.decidePodman(e, d)})
	}
	return res
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
	if p, err := e.LookPath("fuse-overlayfs"); err == nil {
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
	_, errD := e.LookPath("dockerd")
	_, errR := e.LookPath("dockerd-rootless.sh")
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

	f.backing = overlayBacking(f.ctx, e, f.root)
	r.Evidence = append(r.Evidence, f.backing.evidence...)
	dockerNative, dockerNo := f.native, f.nativeNo
	f.dockerUnstable = f.nativeUnstable
	if !f.backing.ok && f.native {
		// dockerd's overlay2 test-mounts on the data root and moves to the next driver when
		// that fails; it refuses a filesystem without d_type (moby overlay2.Init).
		dockerNative, dockerNo, f.dockerUnstable = false, f.backing.why, false
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

	f.overlayReason = dockerNo
	if dockerNative && f.selinux != "" && f.dockerInstalled {
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
			if chosen == "fuse-overlayfs" && f.kernel.AtLeast(4, 18) {
				// Make fuse-overlayfs work (catalogue fuse-device-missing), or drop the setting.
				res = res.Fix(f.fuseFixes(e)...)
			}
			if best := f.best(); best != "vfs" {
				return res.Detail("Remove the setting to let dockerd pick %s.", best).
					Fix(finding.ManualStep("docker-storage-driver", fmt.Sprintf(`remove "storage-driver" from %s (dockerd then picks %s) and restart the rootless dockerd`, f.root.ConfigFile, best)))
			}
			if chosen == "fuse-overlayfs" && f.kernel.AtLeast(4, 18) {
				return res
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
		if f.dockerUnstable {
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
		res = btrfsQuotaVerdict(e, f.root, r.WithStatus(finding.Pass, "btrfs (%s)", because), "rootless dockerd")
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
	return f.earlyNativeBugs(res, f.backing.ok)
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
	return f.fuseFixes(e)
}

// earlyNativeBugs flags native overlay on the first kernels that allowed it with SELinux
// enforcing: mkdir in merged directories fails with permission denied, renames need
// userxattr (Fedora 34, kernel 5.11/5.12: moby/moby#42333, containers/storage#863,
// containers/fuse-overlayfs#328). Fixed in 5.13.
func (f *storageDriverFacts) earlyNativeBugs(r finding.Result, backingOK bool) finding.Result {
	k := f.kernel
	if !f.native || !backingOK || f.selinux != "enforcing" || !k.AtLeast(5, 11) || k.AtLeast(5, 13) {
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

// backingFS says whether native overlayfs can keep its upper layers on the filesystem of a
// data root, and why not.
type backingFS struct {
	ok bool
	// unsure: it could not be told for certain (the ZFS version is unreadable); the verdict
	// then warns instead of failing.
	unsure   bool
	why      string
	evidence []finding.Evidence
}

// Paths overlayBacking reads.
const (
	zfsVersionPath = "/sys/module/zfs/version"
	btrfsSysfs     = "/sys/fs/btrfs"
)

// overlayBacking judges the filesystem that holds (or will hold) a data root as the upper
// layer of native overlayfs:
//
//   - overlayfs, aufs and ecryptfs cannot be an upper layer; containers/storage says
//     "'overlay' is not supported over overlayfs, a mount_program is required"
//     (drivers/overlay/overlay.go) and dockerd's overlay2 test mount fails (catalogue
//     storage-on-overlayfs, storage-on-ecryptfs).
//   - ZFS can since OpenZFS 2.2 (openzfs/zfs#9414, RENAME_WHITEOUT); before, the test mount
//     fails (catalogue storage-on-zfs; containers/storage#221).
//   - XFS made with ftype=0 has no d_type, which overlayfs needs: containers/storage says
//     "kernel does not support overlay fs", dockerd "the backing xfs filesystem is formatted
//     without d_type support" (catalogue xfs-without-ftype; podman#545). xfs_info tells.
//   - Network filesystems need a mount program in a user namespace (containers/storage
//     isNetworkFileSystem); storage.data-root fails them anyway.
func overlayBacking(ctx context.Context, e *facts.Env, d facts.DataRoot) backingFS {
	b := backingFS{ok: true}
	switch d.FSType {
	case "overlay", "aufs", "ecryptfs":
		b.ok = false
		b.why = fmt.Sprintf("the data root %s is on %s, which cannot hold an overlay upper layer", homeRel(e, d.Path), d.FSType)
	case "zfs":
		data, err := e.Host.ReadFile(zfsVersionPath)
		if err != nil {
			b.ok, b.unsure = false, true
			b.why = fmt.Sprintf("the data root %s is on ZFS, which holds an overlay upper layer only since OpenZFS 2.2, and %s cannot be read (%v)", homeRel(e, d.Path), zfsVersionPath, err)
			break
		}
		b.evidence = append(b.evidence, finding.Evidence{Source: zfsVersionPath, Value: strings.TrimSpace(finding.Clip(string(data), 60))})
		major, minor, err := parse.ParseZFSVersion(data)
		switch {
		case err != nil:
			b.ok, b.unsure = false, true
			b.why = fmt.Sprintf("the data root %s is on ZFS, which holds an overlay upper layer only since OpenZFS 2.2, and its version is unclear (%v)", homeRel(e, d.Path), err)
		case major < 2 || major == 2 && minor < 2:
			b.ok = false
			b.why = fmt.Sprintf("the data root %s is on ZFS %d.%d, which cannot hold an overlay upper layer (OpenZFS 2.2 or later can)", homeRel(e, d.Path), major, minor)
		}
	case "xfs":
		m := e.MountOf(d.Existing)
		if m == nil {
			break
		}
		out, err := e.Host.Run(ctx, "xfs_info", m.Mountpoint)
		if err != nil || out.ExitCode != 0 {
			// xfs_info (xfsprogs) is missing or refused: XFS made since RHEL 7.3 and
			// xfsprogs 3.2.3 has ftype=1, so assume it.
			break
		}
		ftype, ok := parse.ParseXFSInfoFtype(out.Stdout)
		if !ok {
			break
		}
		b.evidence = append(b.evidence, finding.Evidence{Source: "xfs_info " + m.Mountpoint, Value: fmt.Sprintf("ftype=%d", ftype)})
		if ftype == 0 {
			b.ok = false
			b.why = fmt.Sprintf("the data root %s is on an XFS made with ftype=0 (%s), which has no d_type for overlayfs", homeRel(e, d.Path), m.Mountpoint)
		}
	default:
		if networkFS[d.FSType] {
			b.ok = false
			b.why = fmt.Sprintf("the data root %s is on %s, where overlayfs needs a mount program in a user namespace", homeRel(e, d.Path), d.FSType)
		}
	}
	return b
}

// btrfsQuotaVerdict judges the btrfs driver on the data root d: an unprivileged engine
// deletes a layer's subvolume with BTRFS_IOC_SNAP_DESTROY, which needs the
// user_subvol_rm_allowed mount option, or since kernel 4.18 with rmdir — which the drivers
// use only while quotas are off (moby/moby 62b5194, containers/storage#508): with quotas on,
// removing images fails with "Failed to destroy btrfs snapshot … operation not permitted"
// (catalogue btrfs-subvolume-delete; moby/moby#41762).
func btrfsQuotaVerdict(e *facts.Env, d facts.DataRoot, r finding.Result, engine string) finding.Result {
	m := e.MountOf(d.Existing)
	if subvolRmAllowed(m) {
		return r.Detail("%s is mounted with user_subvol_rm_allowed: the btrfs driver can delete its subvolumes.", m.Mountpoint)
	}
	on, uuid, known := btrfsQuotas(e, m)
	switch {
	case !known:
		return r.Detail("Removing images with the btrfs driver needs btrfs quotas off (or the user_subvol_rm_allowed mount option); whether quotas are on here could not be told.")
	case !on:
		return r.Detail("btrfs quotas are off: the btrfs driver deletes subvolumes with rmdir (kernel 4.18 or later).")
	}
	r = r.With(path.Join(btrfsSysfs, uuid, "qgroups"), "present: quotas are on")
	if r.Status == finding.Pass {
		r = r.WithStatus(finding.Warn, "%s; but btrfs quotas are on, so %s cannot remove images", r.Summary, engine)
	}
	return r.Detail("With quotas on, the btrfs driver deletes a layer's subvolume only through BTRFS_IOC_SNAP_DESTROY, which an unprivileged account may use only on a filesystem mounted with user_subvol_rm_allowed: `docker rmi`/`podman rmi` fail with `Failed to destroy btrfs snapshot … operation not permitted` (moby/moby#41762).").
		Fix(finding.ManualStep("btrfs-subvolume-delete", fmt.Sprintf(
			"let %s delete its btrfs subvolumes: as root add user_subvol_rm_allowed to the options of %s in /etc/fstab and mount -o remount,user_subvol_rm_allowed %s; or use the overlay driver (storage-driver overlay2 in ~/.config/docker/daemon.json, driver = \"overlay\" in ~/.config/containers/storage.conf)",
			engine, mountpointOr(m, d.Existing), mountpointOr(m, d.Existing))))
}

func mountpointOr(m *mountinfo.Info, p string) string {
	if m != nil {
		return m.Mountpoint
	}
	return p
}

// btrfsQuotas tells whether quotas are on for the btrfs filesystem mounted at m: the kernel
// lists it under /sys/fs/btrfs/UUID, with its devices in devices/ and, while quotas are on
// (Linux 5.9 and later), a qgroups/ directory.
func btrfsQuotas(e *facts.Env, m *mountinfo.Info) (on bool, uuid string, known bool) {
	if m == nil || !strings.HasPrefix(m.Source, "/dev/") {
		return false, "", false
	}
	dev := m.Source
	if real, err := e.Host.EvalSymlinks(dev); err == nil {
		dev = real // /dev/mapper/luks-… → /dev/dm-0, which is how sysfs names it
	}
	dev = path.Base(dev)
	fss, err := e.Host.ReadDir(btrfsSysfs)
	if err != nil {
		return false, "", false
	}
	for _, fsys := range fss {
		if len(fss) > 64 {
			break
		}
		if _, err := e.Host.Lstat(path.Join(btrfsSysfs, fsys.Name(), "devices", dev)); err != nil {
			continue
		}
		_, err := e.Host.Stat(path.Join(btrfsSysfs, fsys.Name(), "qgroups"))
		switch {
		case err == nil:
			return true, fsys.Name(), true
		case errors.Is(err, fs.ErrNotExist):
			return false, fsys.Name(), true
		}
		return false, fsys.Name(), false
	}
	return false, "", false
}

// ---- podman

// podmanPrior is the driver whose "DRIVER-images" directory is in the graphroot: with no
// driver configured, containers/storage keeps using it (types/options.go).
func podmanPrior(e *facts.Env, d facts.DataRoot) string {
	if !d.Exists() {
		return ""
	}
	ents, err := e.Host.ReadDir(d.Path)
	if err != nil {
		return ""
	}
	for _, ent := range ents {
		if name, ok := strings.CutSuffix(ent.Name(), "-images"); ok && name != "" && ent.IsDir() {
			return name
		}
	}
	return ""
}

// decidePodman names the driver rootless podman (containers/storage) will use with the
// account's storage configuration (facts.PodmanStorage) and judges it.
func (f *storageDriverFacts) decidePodman(e *facts.Env, d facts.DataRoot) finding.Result {
	conf := e.PodmanStorage()
	r := finding.Result{}
	for _, k := range []struct{ key, val string }{{"driver", conf.Driver}, {"mount_program", conf.MountProgram}, {"mountopt", conf.MountOpt}} {
		if from := conf.From[k.key]; from != "" {
			r = r.With(from, fmt.Sprintf("%s = %q", k.key, k.val))
		}
	}
	if conf.Err != nil {
		// storage.data-root reports the file podman cannot read.
		return r.WithStatus(finding.Pass, "podman: cannot tell (its storage configuration cannot be read; see storage.data-root)")
	}
	backing := overlayBacking(f.ctx, e, d)
	r.Evidence = append(r.Evidence, backing.evidence...)
	nativeOK := f.native && backing.ok
	nativeNo := f.nativeNo
	if f.native && !backing.ok {
		nativeNo = backing.why
	}

	driver, from := conf.Driver, conf.From["driver"]
	if from != "" {
		from = homeRel(e, from)
	}
	if driver == "" {
		switch prior := podmanPrior(e, d); {
		case prior != "":
			driver, from = prior, "existing state in "+homeRel(e, path.Join(d.Path, prior+"-images"))
		case conf.Layered && (nativeOK || f.fuse):
			driver = "overlay"
		case podmanBefore46(f.ctx, e):
			// containers/storage before 1.48 (Podman before 4.6) falls back to vfs when no
			// file names a driver (podman@v4.3.1 vendor/github.com/containers/storage/types/
			// options.go), as engine.podman says too. The VM lab saw it: on Debian 12 this
			// probe said overlay, and Podman 4.3.1 made vfs-images.
			driver, from = "vfs", "Podman's default before 4.6 without a storage.conf driver"
		case !conf.Layered && (f.fuseBinary || f.kernel.AtLeast(5, 13)):
			// containers/storage canUseRootlessOverlay: fuse-overlayfs on PATH, or a
			// kernel of 5.13 or later (types/options_linux.go).
			driver = "overlay"
		default:
			driver = "vfs"
		}
	}
	switch driver {
	case "overlay":
		return f.podmanOverlay(e, d, conf, r, from, nativeOK, nativeNo, backing)
	case "vfs":
		return f.podmanVFS(e, conf, r, from, nativeOK, nativeNo)
	case "btrfs":
		if d.FSType != "btrfs" {
			return r.WithStatus(finding.Fail, "podman's storage driver btrfs (from %s) needs the graphroot on btrfs; %s is on %s", orNone(from), homeRel(e, d.Existing), d.FSType).
				Fix(podmanDriverStep(e, conf, "overlay"))
		}
		return btrfsQuotaVerdict(e, d, r.WithStatus(finding.Pass, "podman: btrfs (from %s)", orNone(from)), "rootless podman")
	}
	return r.WithStatus(finding.Fail, "podman's storage driver %q (from %s) is not one rootless podman can use (overlay, btrfs or vfs)", driver, orNone(from)).
		Detail("containers/storage accepts btrfs, overlay and vfs for rootless users; podman exits at start with any other.").
		Fix(podmanDriverStep(e, conf, "overlay"))
}

// podmanDriverStep asks to set the driver in the account's own storage.conf.
func podmanDriverStep(e *facts.Env, conf facts.PodmanStorageConf, driver string) finding.Intent {
	return finding.ManualStep("podman-storage-driver", fmt.Sprintf(
		"set driver = %q under [storage] in %s (create it if needed), then run podman system reset as %s (it deletes the images and containers made with the old driver)",
		driver, conf.UserFile, e.User.Name))
}

// mountProgramStep asks for mount_program = fuse-overlayfs in the account's storage.conf.
func mountProgramStep(conf facts.PodmanStorageConf) finding.Intent {
	return finding.ManualStep("podman-mount-program", fmt.Sprintf(
		`set mount_program = "/usr/bin/fuse-overlayfs" under [storage.options.overlay] in %s (create it if needed), then run podman system reset (it deletes the images and containers made so far)`,
		conf.UserFile))
}

// podmanOverlay judges the overlay driver: through a configured mount program, natively, or
// through fuse-overlayfs, which containers/storage picks itself when native overlay fails
// and fuse-overlayfs is on PATH (drivers/overlay/overlay.go Init).
func (f *storageDriverFacts) podmanOverlay(e *facts.Env, d facts.DataRoot, conf facts.PodmanStorageConf, r finding.Result,
	from string, nativeOK bool, nativeNo string, backing backingFS) finding.Result {
	via := ""
	if from != "" {
		via = " (from " + from + ")"
	}
	if mp := conf.MountProgram; mp != "" {
		// catalogue storage-conf-mount-program-missing, fuse-device-missing.
		mpFrom := homeRel(e, conf.From["mount_program"])
		found := false
		if path.IsAbs(mp) {
			fi, err := e.Host.Stat(mp)
			found = err == nil && fi.Mode.IsRegular()
		} else {
			_, err := e.LookPath(mp)
			found = err == nil
		}
		if !found {
			res := r.WithStatus(finding.Fail, "podman's mount_program %s (from %s) is not installed: podman cannot mount any layer", mp, mpFrom).
				Detail("containers/storage runs the mount program for every layer it mounts; without it pulls and container starts fail (buildah#3716, toolbox#1512).")
			if path.Base(mp) == "fuse-overlayfs" {
				res = res.Fix(finding.InstallTool(string(distro.ToolFuseOverlayfs), "podman's storage.conf names fuse-overlayfs as its mount program"))
			}
			if nativeOK {
				res = res.Detail("Native overlay works here (%s): removing the mount_program line from %s also works, after podman system reset.", f.nativeWhy, mpFrom)
			}
			return res
		}
		if path.Base(mp) == "fuse-overlayfs" && f.fuseDevice != "ok" || !f.kernel.AtLeast(4, 18) {
			why := []string{}
			for _, n := range f.fuseNo {
				if !strings.Contains(n, "fuse-overlayfs is not installed") {
					why = append(why, n)
				}
			}
			if len(why) > 0 {
				return r.WithStatus(finding.Fail, "podman mounts layers with %s (mount_program from %s), which cannot work: %s", mp, mpFrom, strings.Join(why, "; ")).
					Detail("fuse-overlayfs: `fuse: device not found, try 'modprobe fuse' first` (podman troubleshooting #24, buildah#2084).").
					Fix(f.fuseFixes(e)...)
			}
		}
		return r.WithStatus(finding.Pass, "podman: overlay through %s (mount_program from %s)", mp, mpFrom)
	}

	if !nativeOK {
		if f.fuse {
			return r.WithStatus(finding.Pass, "podman: overlay through fuse-overlayfs%s, chosen by containers/storage because %s", via, nativeNo)
		}
		s := finding.Fail
		if backing.unsure && f.native {
			s = finding.Warn
		}
		res := r.WithStatus(s, "podman's overlay driver%s cannot work: %s, and fuse-overlayfs cannot either", via, nativeNo).
			Detail("fuse-overlayfs: %s.", strings.Join(f.fuseNo, "; ")).
			Detail("podman stops with `kernel does not support overlay fs` or `'overlay' is not supported over …, a mount_program is required`.")
		if f.kernel.AtLeast(4, 18) {
			res = res.Fix(f.fuseFixes(e)...)
		} else {
			res = res.Fix(finding.ManualStep("upgrade-kernel", "upgrade to kernel 5.11 or later for native overlay in user namespaces (4.18 or later for fuse-overlayfs)"))
		}
		if !backing.ok {
			res = res.Fix(finding.ManualStep("move-podman-data-root", fmt.Sprintf(
				"or keep podman's images on a filesystem that can hold overlay layers (ext4, XFS with ftype=1, btrfs): set graphroot under [storage] in %s to a directory there owned by %s",
				conf.UserFile, e.User.Name)).Optionally())
		}
		return res
	}

	res := r.WithStatus(finding.Pass, "podman: overlay (%s)", f.nativeWhy)
	flag := path.Join(d.Path, "overlay", ".has-mount-program")
	if data, err := e.Host.ReadFile(flag); err == nil && strings.TrimSpace(string(data)) == "true" && !f.fuseBinary {
		// catalogue storage-conf-mount-program-missing (toolbox#1512).
		res = res.With(flag, "true").
			WithStatus(finding.Warn, "podman's existing layers were made through fuse-overlayfs, which is no longer installed: their containers may not start").
			Detail("containers/storage marks a store set up with a mount program (%s); new layers use native overlay, but containers made before may fail to mount (containers/toolbox#1512).", homeRel(e, flag)).
			Fix(finding.InstallTool(string(distro.ToolFuseOverlayfs), "the layers in podman's store were made through fuse-overlayfs"))
	}
	if f.nativeUnstable || e.Distro.PatchedOverlayInUserNS(f.kernel.Release) && !f.kernel.AtLeast(5, 11) {
		// catalogue ubuntu-kernel-native-overlay-pre-5-11: containers/storage's native
		// check passes on Ubuntu's (and Debian's opt-in) pre-5.11 patch, then layers fail
		// to extract; it does not switch to fuse-overlayfs by itself (podman#10055,
		// actions/runner-images#3229).
		res = res.WithStatus(finding.Warn, "podman: native overlay through %s: extracting some images fails (`Error processing tar file … operation not permitted`); fuse-overlayfs is reliable", f.nativeWhy).
			Detail("containers/storage's native overlay check passes on this kernel's patch, but layer extraction then fails for some images (podman#10055); it uses fuse-overlayfs only when storage.conf names it.")
		if !f.fuseBinary {
			res = res.Fix(finding.InstallTool(string(distro.ToolFuseOverlayfs), "fuse-overlayfs is the reliable overlay for rootless podman before kernel 5.11"))
		}
		res = res.Fix(mountProgramStep(conf))
	}
	if opt := conf.MountOpt; hasMetacopyOn(opt) {
		// catalogue storage-conf-metacopy-rootless.
		mFrom := conf.From["mountopt"]
		step := fmt.Sprintf(`set mountopt = "nodev" (without metacopy=on) under [storage.options.overlay] in %s`, mFrom)
		if mFrom != conf.UserFile {
			step = fmt.Sprintf(`create %s holding "[storage.options.overlay]" and mountopt = "nodev": it overrides metacopy=on from %s for %s`,
				path.Join(path.Dir(conf.UserFile), "storage.conf.d", "99-rootless-doctor.conf"), mFrom, e.User.Name)
		}
		res = res.With(mFrom, fmt.Sprintf("mountopt = %q", opt)).
			Detail("The kernel refuses metacopy=on for overlay mounts made in a user namespace; containers/storage drops it where the kernel answers EINVAL (containers/storage#1049), but the overlay driver fails at start where it answers EPERM (container-libs#1053, container-libs#954).").
			Fix(finding.ManualStep("podman-mountopt", step))
		if res.Status == finding.Pass {
			res = res.WithStatus(finding.Warn, "podman's overlay mount options (from %s) hold metacopy=on, which a user namespace cannot use: the overlay driver may fail at start", homeRel(e, mFrom))
		}
	}
	return f.earlyNativeBugs(res, true)
}

// hasMetacopyOn reports whether overlay mount options turn metacopy on.
func hasMetacopyOn(opts string) bool {
	on := false
	for _, o := range strings.Split(opts, ",") {
		switch strings.TrimSpace(o) {
		case "metacopy=on":
			on = true
		case "metacopy=off":
			on = false
		}
	}
	return on
}

// podmanVFS judges the vfs driver: configured, inherited from existing state, or the
// silent fallback when containers/storage sees no way to overlay (catalogue
// silent-vfs-fallback; podman#18197, containers/storage#771).
func (f *storageDriverFacts) podmanVFS(e *facts.Env, conf facts.PodmanStorageConf, r finding.Result, from string, nativeOK bool, nativeNo string) finding.Result {
	better := nativeOK || f.fuse
	switch {
	case from == "":
		r = r.WithStatus(finding.Warn, "podman: vfs, chosen silently: every layer is a full copy: slow, disk-hungry").
			Detail("No driver is configured, and containers/storage picks overlay only with fuse-overlayfs on PATH or a kernel of 5.13 or later.")
	default:
		r = r.WithStatus(finding.Warn, "podman: vfs (from %s): every layer is a full copy: slow, disk-hungry", from)
	}
	switch {
	case better:
		return r.Detail("overlay would work here.").Fix(podmanDriverStep(e, conf, "overlay"))
	case !f.kernel.AtLeast(4, 18):
		return r.Detail("overlay: %s.", nativeNo).Fix(finding.ManualStep("upgrade-kernel", "upgrade to kernel 5.11 or later for native overlay in user namespaces (4.18 or later for fuse-overlayfs)"))
	}
	return r.Detail("overlay: %s; fuse-overlayfs: %s.", nativeNo, strings.Join(f.fuseNo, "; ")).Fix(f.fuseFixes(e)...)
}

// fuseFixes are what makes fuse-overlayfs work (kernel 4.18 or later assumed).
func (f *storageDriverFacts) fuseFixes(e *facts.Env) []finding.Intent {
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

// podmanBefore46 reports whether the installed podman is known to be older than 4.6.
func podmanBefore46(ctx context.Context, e *facts.Env) bool {
	pm := e.Podman(ctx)
	if pm == nil {
		return false
	}
	if _, _, ok := pm.Version(); !ok {
		return false
	}
	return !pm.AtLeast(4, 6)
}
