package checks

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var storageDataRoot = Probe{
	ID:    "storage.data-root",
	Title: "Image storage location",
	Fails: "on NFS/CIFS/Lustre/GPFS or not writable (fail); tmpfs (warn)",
	Why: "A rootless engine keeps images and layers under the account's home " +
		"(~/.local/share/docker, ~/.local/share/containers/storage). The files there belong to " +
		"subordinate uids and carry extended attributes, which NFS, CIFS, Lustre and GPFS refuse: " +
		"pulls fail with `lchown … operation not permitted` or `lsetxattr … operation not supported`. " +
		"Docker: \"The data dir should not be on NFS\".",
	Reads: []string{
		"~/.config/docker/daemon.json (data-root)",
		"~/.config/containers/storage.conf, /etc/containers/storage.conf (graphroot, rootless_storage_path)",
		"$XDG_CONFIG_HOME, $XDG_DATA_HOME, $CONTAINERS_STORAGE_CONF",
		"the filesystem type of the data root (statfs)",
		"/proc/self/mountinfo (btrfs mount options)",
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
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	if e.User.Home == "" {
		return finding.Skipf("%s has no home directory (see identity.user)", e.User.Name)
	}
	roots := []facts.DataRoot{e.DockerDataRoot()}
	if p, ok := e.PodmanDataRoot(); ok {
		roots = append(roots, p)
	}
	var results []finding.Result
	for _, d := range roots {
		results = append(results, checkDataRoot(e, d))
	}
	return mergeResults(results)
}

// mergeResults combines per-engine verdicts: the worst one leads, the others' summaries
// become details; evidence and fixes are kept from all. Undecided beats pass, not warn/fail.
func mergeResults(rs []finding.Result) finding.Result {
	if len(rs) == 1 {
		return rs[0]
	}
	rank := func(r finding.Result) int {
		if r.Err != nil {
			return 2 // as the runner will: a warning
		}
		return r.Status.Severity()
	}
	lead := 0
	for i, r := range rs {
		if rank(r) > rank(rs[lead]) {
			lead = i
		}
	}
	out := rs[lead]
	out.Details = append([]string(nil), out.Details...)
	out.Evidence = append([]finding.Evidence(nil), out.Evidence...)
	out.Intents = append([]finding.Intent(nil), out.Intents...)
	var passes []string
	for i, r := range rs {
		if i == lead {
			continue
		}
		if rank(r) == rank(out) && r.Status == finding.Pass && out.Status == finding.Pass {
			passes = append(passes, r.Summary)
		} else {
			out.Details = append(out.Details, "also: "+r.Summary)
		}
		for _, d := range r.Details {
			// Both engines' data roots often sit on the same mount and get the same note.
			if !slices.Contains(out.Details, d) {
				out.Details = append(out.Details, d)
			}
		}
		for _, ev := range r.Evidence {
			if !slices.Contains(out.Evidence, ev) {
				out.Evidence = append(out.Evidence, ev)
			}
		}
		out.Intents = append(out.Intents, r.Intents...)
	}
	if len(passes) > 0 {
		out.Summary = strings.Join(append([]string{out.Summary}, passes...), "; ")
	}
	return out
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
