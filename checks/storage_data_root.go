package checks

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var storageDataRoot = Probe{
	ID:    "storage.data-root",
	Title: "Image storage location",
	Fails: "on NFS/CIFS/Lustre/GPFS, not writable, mounted noexec, or in a systemd-homed home that does not map the subordinate ids (fail); tmpfs, or a graphroot reached through a symlink into another filesystem (warn)",
	Why: "A rootless engine keeps images and layers under the account's home " +
		"(~/.local/share/docker, ~/.local/share/containers/storage). The files there belong to " +
		"subordinate uids and carry extended attributes, which NFS, CIFS, Lustre and GPFS refuse: " +
		"pulls fail with `lchown … operation not permitted` or `lsetxattr … operation not supported`. " +
		"Docker: \"The data dir should not be on NFS\". A data root on a noexec mount cannot run what the " +
		"images hold (docs/failures/catalogue.json#home-mounted-noexec, podman#2137); one under a home " +
		"systemd-homed mounts with an id mapping cannot hold files of subordinate ids outside the mapped " +
		"container range (#home-on-systemd-homed, systemd/systemd#29297); tmpfs before Linux 6.6 has no " +
		"user.* xattrs (#storage-on-tmpfs-without-xattrs, podman#14655); a graphroot reached through a " +
		"symlink into another filesystem made podman 2.2 fail to remount it (#graphroot-symlink-crosses-filesystems, " +
		"podman#10187).",
	Reads: []string{
		"~/.config/docker/daemon.json (data-root)",
		"~/.config/containers/storage.conf, /etc/containers/storage.conf (graphroot, rootless_storage_path)",
		"$XDG_CONFIG_HOME, $XDG_DATA_HOME, $CONTAINERS_STORAGE_CONF",
		"the filesystem type of the data root (statfs)",
		"/proc/self/mountinfo (mount options of the data root's mount: noexec, idmapped, btrfs options)",
		"lstat of each component of the podman graphroot",
		"/etc/subuid, /etc/subgid (the account's ranges, for a systemd-homed home)",
	},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runStorageDataRoot,
}

// networkFS are filesystems engines cannot keep layers on: no chown to subordinate ids
// (root_squash, id mapping on the server), no or partial xattrs, unreliable locks.
// Catalogue storage-on-nfs; https://docs.docker.com/engine/security/rootless/troubleshoot/,
// docker/docs#13275, containers/storage#1356, podman troubleshooting #14.
var networkFS = map[string]bool{"nfs": true, "cifs": true, "smb2": true, "lustre": true, "gpfs": true}

// sharedFolderFS are VM shared folders and FUSE filesystems: some work, most refuse chown
// to ids the server does not know, or xattrs.
var sharedFolderFS = map[string]bool{"9p": true, "vboxsf": true, "fuse": true}

func runStorageDataRoot(_ context.Context, e *facts.Env) finding.Result {
	return judgeDataRoots(e, true)
}

// storageDataRootDocker is storage.data-root's verdict on rootless dockerd's data root alone:
// engine.docker folds in this part (EngineParts).
func storageDataRootDocker(_ context.Context, e *facts.Env) finding.Result {
	return judgeDataRoots(e, false)
}

func judgeDataRoots(e *facts.Env, withPodman bool) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	if e.User.Home == "" {
		return finding.Skipf("%s has no home directory (see identity.user)", e.User.Name)
	}
	roots := []facts.DataRoot{e.DockerDataRoot()}
	if p, ok := e.PodmanDataRoot(); ok && withPodman {
		roots = append(roots, p)
	}
	var results []finding.Result
	for _, d := range roots {
		results = append(results, checkDataRoot(e, d))
	}
	return mergeResults(results)
}

// checkDataRoot judges one engine's data root.
func checkDataRoot(e *facts.Env, d facts.DataRoot) finding.Result {
	if d.ConfigErr != nil && d.ConfigFatal {
		return finding.Result{}.With(d.ConfigFile, d.ConfigErr.Error()).WithStatus(finding.Fail, "%s is not valid: rootless dockerd will refuse to start", homeRel(e, d.ConfigFile)).
			Detail("dockerd reads this file at start and exits on a syntax error; fix it or remove it.").
			Fix(finding.ManualStep("fix-docker-daemon-json", fmt.Sprintf("fix the JSON in %s (or remove the file)", d.ConfigFile)))
	}
	r := judgeDataRoot(e, d)
	if d.ConfigErr != nil {
		// An unreadable file, or a storage.conf BurntSushi/toml refuses (as the engine does): the
		// default location was judged, which may not be the one the engine uses.
		r = r.Detail("error: %v", d.ConfigErr)
		if d.Engine == facts.EnginePodman {
			r = r.Detail("podman and buildah refuse a storage.conf they cannot parse.")
		}
		if r.Status == finding.Pass && r.Err == nil {
			r = r.WithStatus(finding.Warn, "cannot read the %s configuration; assuming %s", d.Engine, r.Summary)
		}
	}
	return r
}

// judgeDataRoot judges the filesystem and permissions of one data root.
func judgeDataRoot(e *facts.Env, d facts.DataRoot) finding.Result {
	r := finding.Result{Evidence: append([]finding.Evidence(nil), d.Evidence...)}
	name := homeRel(e, d.Path)
	if d.StatErr != nil {
		return finding.Undecided(d.StatErr, "cannot look at %s (%s data root)", d.Existing, d.Engine)
	}
	if !d.Info.IsDir() {
		return r.WithStatus(finding.Fail, "%s is in the way of the %s data root %s: it is not a directory", d.Existing, d.Engine, name).
			Detail("The engine creates %s with all its parents; a file named %s stops it.", d.Path, d.Existing).
			Fix(finding.ManualStep("data-root-path", fmt.Sprintf("remove or rename %s so that %s can be created", d.Existing, d.Path)))
	}
	if d.FSErr != nil {
		return finding.Undecided(d.FSErr, "cannot tell the filesystem of %s", d.Existing)
	}
	where := name
	if !d.Exists() {
		where = fmt.Sprintf("%s (to be created in %s)", name, d.Existing)
	}
	r = r.With(d.Existing, fmt.Sprintf("owner %d:%d mode %04o", d.Info.UID, d.Info.GID, d.Info.Mode.Perm()))
	if d.From != "default" {
		r = r.Detail("The %s data root comes from %s.", d.Engine, d.From)
	}
	moveFix := finding.ManualStep("move-"+d.Engine+"-data-root", fmt.Sprintf(
		"have an administrator create a directory on a local disk owned by %s (for example /var/lib/rootless/%s) and set %s to it in %s",
		e.User.Name, e.User.Name, d.ConfigKey, d.ConfigFile))

	// The filesystem first: it is the harder problem to fix.
	fsType := d.FSType
	var fsVerdict finding.Result
	switch {
	case networkFS[fsType]:
		fsVerdict = r.WithStatus(finding.Fail, "the %s data root %s is on %s: engines cannot keep layers on network filesystems", d.Engine, where, fsType).
			Detail("Layers are owned by subordinate uids and carry extended attributes; %s refuses the chown (root_squash, server-side id mapping) or the xattrs, so pulls fail with `lchown … operation not permitted` (docker/docs#13275, containers/storage#1356).", fsType).
			Detail("Move it to a local, persistent directory and set %s in %s to that directory.", d.ConfigKey, d.ConfigFile).
			Fix(moveFix)
	case sharedFolderFS[fsType]:
		fsVerdict = r.WithStatus(finding.Warn, "the %s data root %s is on %s, which often refuses chown to subordinate ids and xattrs", d.Engine, where, fsType).
			Detail("VM shared folders (9p, vboxsf) and FUSE filesystems rarely support what image layers need; if pulls fail with `operation not permitted`, move the data root to a local disk.").
			Fix(moveFix.Optionally())
	case fsType == "tmpfs" || fsType == "ramfs":
		fsVerdict = r.WithStatus(finding.Warn, "the %s data root %s is on %s: images are lost at reboot and fill memory", d.Engine, where, fsType).
			Detail("Every pulled layer takes RAM; point %s in %s at a disk if images should persist.", d.ConfigKey, d.ConfigFile).
			Fix(moveFix.Optionally())
		if k, err := e.Kernel(); fsType == "ramfs" || err == nil && !k.AtLeast(6, 6) {
			// catalogue storage-on-tmpfs-without-xattrs: user.* xattrs on tmpfs since 6.6
			// (commit 2daf18a7884d, "tmpfs: add support for user extended attributes").
			fsVerdict = fsVerdict.WithStatus(finding.Warn, "the %s data root %s is on %s, which keeps no user extended attributes before Linux 6.6: images that carry them fail to unpack", d.Engine, where, fsType).
				Detail("Layers with extended attributes, and overlay's user.overlay.* attributes in a user namespace, cannot be written there: pulls fail with `Error processing tar file … operation not supported` for some images while others work (podman#14655).")
		}
	case fsType == "btrfs":
		fsVerdict = r.WithStatus(finding.Pass, "%s on btrfs", where)
		fsVerdict = btrfsDetail(e, d, fsVerdict)
	case fsType == "overlay":
		fsVerdict = r.WithStatus(finding.Pass, "%s on overlay", where).
			Detail("The data root is on overlayfs (inside a container?): the native overlay driver cannot stack on it; see storage.driver. A volume mounted at %s avoids that.", d.Path)
	default:
		fsVerdict = r.WithStatus(finding.Pass, "%s on %s", where, fsType)
		if strings.HasPrefix(fsType, "unknown") {
			fsVerdict = fsVerdict.Detail("The filesystem type is not one the doctor knows; if pulls fail with `operation not permitted`, try a data root on ext4 or xfs.")
		}
	}

	// Then the mount that holds it.
	fsVerdict = dataRootMount(e, d, where, fsVerdict)
	if d.Engine == facts.EnginePodman {
		fsVerdict = graphrootSymlink(e, d, fsVerdict)
	}

	// Then whether the account can create and change what it needs there.
	if !canWriteDir(e, d.Info) {
		what := fmt.Sprintf("%s cannot write to %s", e.User.Name, d.Existing)
		detail := fmt.Sprintf("%s is owned by uid %d with mode %04o; the engine must create %s and write under it.", d.Existing, d.Info.UID, d.Info.Mode.Perm(), d.Path)
		fix := finding.ManualStep("own-"+d.Engine+"-data-root", fmt.Sprintf("give %s back to %s (as root: chown -R %s: %s); it was probably created by a command run with sudo", d.Existing, e.User.Name, e.User.Name, d.Existing))
		if !d.Exists() {
			fix = finding.ManualStep("own-"+d.Engine+"-data-root", fmt.Sprintf("create %s owned by %s, or make %s writable by %s", d.Path, e.User.Name, d.Existing, e.User.Name))
		}
		if fsVerdict.Status == finding.Fail {
			return fsVerdict.Detail("Also: %s. %s", what, detail)
		}
		return fsVerdict.WithStatus(finding.Fail, "%s (the %s data root)", what, d.Engine).Detail("%s", detail).Fix(fix)
	}
	return fsVerdict
}

// btrfsDetail explains the btrfs case (docs/failures/catalogue.json#btrfs-subvolume-delete): Docker and podman
// may use their btrfs driver there, which makes a subvolume per layer; an unprivileged
// account may delete a subvolume only on kernel ≥ 4.18 with quotas off, or when the
// filesystem is mounted with user_subvol_rm_allowed (moby/moby#41762, moby/moby#42201).
func btrfsDetail(e *facts.Env, d facts.DataRoot, r finding.Result) finding.Result {
	m := e.MountOf(d.Existing)
	if m == nil {
		return r.Detail("On btrfs, removing images with the btrfs driver needs kernel 4.18 or later with quotas off, or the user_subvol_rm_allowed mount option (moby/moby#41762).")
	}
	r = r.With(facts.MountinfoPath, fmt.Sprintf("%s %s %s", m.Mountpoint, m.FSType, m.VFSOptions))
	if subvolRmAllowed(m) {
		return r.Detail("%s is mounted with user_subvol_rm_allowed: the btrfs driver can delete its subvolumes.", m.Mountpoint)
	}
	return r.Detail("%s is not mounted with user_subvol_rm_allowed: if the btrfs driver is used, removing images needs kernel 4.18 or later with quotas off, else `Failed to destroy btrfs snapshot … operation not permitted` (moby/moby#41762). The overlay drivers do not have this problem.", m.Mountpoint)
}

// worsen reports one more problem on r: as its status and summary when that is worse than
// what r says, as a detail otherwise.
func worsen(r finding.Result, s finding.Status, summary string) finding.Result {
	if s.Severity() > r.Status.Severity() {
		return r.WithStatus(s, "%s", summary)
	}
	return r.Detail("Also: %s.", summary)
}

// homedFirst and homedLast bound the "container" uid range systemd's userdb reserves
// (524288–1878982656, https://systemd.io/UIDS-GIDS/): systemd-homed's id-mapped home
// mounts map it through, and nothing else beyond the account's own uid.
const homedFirst, homedLast = 524288, 1878982656

// dataRootMount judges the options of the mount that holds a data root: noexec (catalogue
// home-mounted-noexec), and a systemd-homed id-mapped home that does not map the account's
// subordinate ids (catalogue home-on-systemd-homed).
func dataRootMount(e *facts.Env, d facts.DataRoot, where string, r finding.Result) finding.Result {
	m := e.MountOf(d.Existing)
	if m == nil {
		return r
	}
	line := mountinfoLine(m.Mountpoint, m.Options, m.Optional, m.FSType, m.Source)
	if parse.HasMountOption(m.Options, "noexec") {
		r = worsen(r.With(facts.MountinfoPath, line), finding.Fail,
			fmt.Sprintf("the %s data root %s is on %s, mounted noexec: containers cannot run the programs of their images", d.Engine, where, m.Mountpoint)).
			Detail("Layers are mounted from the data root, and the kernel refuses to execute anything below a noexec mount: every container's first process fails with `permission denied` (podman#2137, podman's troubleshooting guide).").
			Fix(finding.ManualStep("data-root-noexec-"+d.Engine, fmt.Sprintf(
				"as root remove noexec from the options of %s in /etc/fstab and mount -o remount,exec %s; or set %s in %s to a directory on a filesystem mounted without noexec, created for %s by an administrator",
				m.Mountpoint, m.Mountpoint, d.ConfigKey, d.ConfigFile, e.User.Name)))
	}
	if parse.HasMountOption(m.Options, "idmapped") && e.User.Home != "" && (m.Mountpoint == e.User.Home || strings.HasPrefix(e.User.Home, m.Mountpoint+"/")) {
		r = homedMapping(e, d, where, r.With(facts.MountinfoPath, line), m.Mountpoint)
	}
	return r
}

// homedMapping judges a data root on the id-mapped mount systemd-homed makes of a home:
// files there can be owned only by the account's uid and the ids of the container range,
// so subordinate ids outside it fail every chown with EOVERFLOW (`lchown …: value too large
// for defined data type`, systemd/systemd#29297, podman#20040).
func homedMapping(e *facts.Env, d facts.DataRoot, where string, r finding.Result, mnt string) finding.Result {
	var outside []string
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		data, err := e.Host.ReadFile(f)
		if err != nil {
			continue
		}
		owned, _ := parse.ParseSubIDs(data).Owned(e.User.Name, e.User.UID)
		for _, rg := range owned {
			if rg.Start < homedFirst || rg.End() > homedLast {
				outside = append(outside, fmt.Sprintf("%s %s", path.Base(f), rg))
			}
		}
	}
	if len(outside) == 0 {
		return r.Detail("%s is an id-mapped mount (systemd-homed): it maps the account's uid and the container range %d-%d, which holds all of %s's subordinate ids.", mnt, homedFirst, homedLast, e.User.Name)
	}
	return worsen(r, finding.Fail, fmt.Sprintf("the %s data root %s is in %s, an id-mapped systemd-homed home that does not map %s's subordinate ids (%s): image layers cannot be written there",
		d.Engine, where, mnt, e.User.Name, strings.Join(outside, ", "))).
		Detail("systemd-homed mounts the home with an id mapping that covers the account's own uid and the container range %d-%d only; a file owned by any other subordinate id fails with `value too large for defined data type` (systemd/systemd#29297).", homedFirst, homedLast).
		Fix(finding.ManualStep("homed-subids", fmt.Sprintf(
			"give %s subordinate ids inside %d-%d (as root: usermod --del-subuids … --del-subgids … and --add-subuids/--add-subgids with a free range of 65536 ids there, then podman system migrate); or set %s in %s to a directory outside the home, created for %s by an administrator",
			e.User.Name, homedFirst, homedLast, d.ConfigKey, d.ConfigFile, e.User.Name)))
}

// graphrootSymlink warns when podman's graphroot is reached through a symlink into another
// filesystem: containers/storage bind-mounts graphroot/overlay onto itself and remounts it
// private, and podman 2.2 (RHEL 8) looked the mount up by the unresolved path and failed with
// `remount …/overlay, flags: 0x40000: invalid argument` (catalogue
// graphroot-symlink-crosses-filesystems, podman#10187). Later containers/storage resolves
// the path (moby/sys/mountinfo Mounted), so this only warns.
func graphrootSymlink(e *facts.Env, d facts.DataRoot, r finding.Result) finding.Result {
	p := "/"
	for _, c := range strings.Split(strings.TrimPrefix(path.Clean(d.Path), "/"), "/") {
		if c == "" {
			break
		}
		p = path.Join(p, c)
		fi, err := e.Host.Lstat(p)
		if err != nil {
			return r
		}
		if fi.Mode&fs.ModeSymlink == 0 {
			continue
		}
		from, to := e.MountOf(path.Dir(p)), e.MountOf(p)
		if from == nil || to == nil || from.Mountpoint == to.Mountpoint && from.Root == to.Root {
			continue
		}
		real, err := e.Host.EvalSymlinks(d.Existing)
		if err != nil {
			real = d.Existing
		}
		if d.Exists() {
			real = path.Clean(real)
		} else {
			real = path.Join(real, strings.TrimPrefix(d.Path, d.Existing))
		}
		return worsen(r.With("lstat "+p, "symlink into "+to.Mountpoint), finding.Warn,
			fmt.Sprintf("podman's graphroot %s is reached through the symlink %s into another filesystem (%s): some podman versions fail to remount it", homeRel(e, d.Path), homeRel(e, p), to.Mountpoint)).
			Detail("podman 2.2 (RHEL 8) stops with `remount …/storage/overlay, flags: 0x40000: invalid argument` when the graphroot path crosses filesystems through a symlink (podman#10187); naming the real directory avoids it.").
			Fix(finding.ManualStep("podman-graphroot-real-path", fmt.Sprintf("set graphroot = %q under [storage] in %s (the real directory, not the symlink)", real, d.ConfigFile)))
	}
	return r
}
