package checks

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"kernel.org/pub/linux/libs/security/libcap/cap"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

var idmapNewuidmap = Probe{
	ID:    "idmap.newuidmap",
	Title: "newuidmap and newgidmap",
	Fails: "missing; neither setuid root nor `cap_setuid`/`cap_setgid`",
	Why: "An unprivileged process may map only its own uid into a user namespace. Mapping the " +
		"65536 subordinate ids an image needs takes the shadow helpers newuidmap and newgidmap, " +
		"which must run privileged: setuid root, or with the file capability cap_setuid " +
		"(newuidmap) / cap_setgid (newgidmap). They are the only privileged binaries rootless " +
		"mode uses. Without them RootlessKit stops (\"newuidmap binary not found\") and Podman " +
		"falls back to a single-id mapping that cannot unpack most images.",
	Reads: []string{"newuidmap and newgidmap on PATH", "their owner, mode and file capabilities",
		"/proc/self/mountinfo (nosuid mounts)"},
	Fixes: []finding.Kind{finding.Package, finding.Manual},
	Run:   runNewuidmap,
}

// idmapHelper is newuidmap or newgidmap and the capability it needs to write the id map
// (user_namespaces(7), "Defining user and group ID mappings").
type idmapHelper struct {
	name    string
	capName string
	capVal  cap.Value
}

var idmapHelpers = []idmapHelper{
	{"newuidmap", "cap_setuid", cap.SETUID},
	{"newgidmap", "cap_setgid", cap.SETGID},
}

// helperVerdict is what one helper binary is found to be.
type helperVerdict struct {
	status  finding.Status // Pass, Warn or Fail
	summary string         // for Warn and Fail
	details []string
	nosuid  string // the nosuid mount point it sits on, when that is its problem
}

func runNewuidmap(_ context.Context, e *facts.Env) finding.Result {
	r := finding.Result{}
	var missing, offPath []string
	var bad []helperVerdict
	var how, paths []string
	foreign := ""
	for _, h := range idmapHelpers {
		p, err := e.LookPath(h.name)
		if err != nil {
			if q := findOffPath(e, h.name); q != "" {
				offPath = append(offPath, q)
			} else {
				missing = append(missing, h.name)
			}
			continue
		}
		fi, err := e.Host.Stat(p)
		if err != nil {
			return finding.Undecided(err, "cannot stat %s", p)
		}
		r = r.With(p, fmt.Sprintf("mode=%s owner=%d caps=%s", octalMode(fi.Mode), fi.UID, orNone(fi.Caps)))
		paths = append(paths, p)
		if !systemDir(path.Dir(p)) && foreign == "" {
			foreign = p
		}
		v := judgeHelper(e, h, fi)
		if v.status == finding.Pass {
			how = append(how, v.summary)
			continue
		}
		bad = append(bad, v)
	}

	pkg := "the package that provides them (uidmap on Debian and Ubuntu, shadow-utils on Fedora and RHEL, shadow elsewhere)"
	if name, ok := e.Distro.Package(distro.ToolNewuidmap); ok {
		pkg = "the " + name + " package"
	}
	install := finding.InstallTool(string(distro.ToolNewuidmap),
		"rootless engines map subordinate ids through the privileged helpers newuidmap and newgidmap")
	if len(missing)+len(offPath) > 0 {
		if len(missing) > 0 {
			r = r.WithStatus(finding.Fail, "%s %s not installed", strings.Join(missing, " and "), isAre(len(missing))).
				Detail("Install %s. Without them RootlessKit stops with \"newuidmap binary not found\" and Podman maps a single id (podman-container-tools/podman#9271).", pkg).
				Fix(install)
		} else {
			// The engine looks them up on its own PATH, like exec.LookPath (NixOS/nixpkgs#215332).
			r = r.WithStatus(finding.Fail, "%s %s installed but not on PATH", strings.Join(offPath, " and "), isAre(len(offPath))).
				Fix(finding.ManualStep("newuidmap-path", fmt.Sprintf("add %s to the PATH of %s and of the engine's service", path.Dir(offPath[0]), e.User.Name)))
		}
		for _, v := range bad {
			r = r.Detail("%s", v.summary)
		}
		return r
	}

	slices.SortStableFunc(bad, func(a, b helperVerdict) int { return b.status.Severity() - a.status.Severity() })
	if len(bad) == 0 {
		if how[0] == "newuidmap is setuid root" && how[1] == "newgidmap is setuid root" {
			return r.WithStatus(finding.Pass, "newuidmap and newgidmap are setuid root")
		}
		return r.WithStatus(finding.Pass, "%s", strings.Join(how, "; "))
	}
	r = r.WithStatus(bad[0].status, "%s", bad[0].summary)
	reinstall := false
	for i, v := range bad {
		if i > 0 {
			r = r.Detail("%s", v.summary)
		}
		r.Details = append(r.Details, v.details...)
		if v.nosuid != "" {
			r = r.Fix(finding.ManualStep("newuidmap-nosuid",
				fmt.Sprintf("remount %s without nosuid, or use newuidmap and newgidmap from a filesystem mounted without it", v.nosuid)))
		} else {
			reinstall = true
		}
	}
	if reinstall {
		r = r.Detail("Without the privilege the map write fails: \"newuidmap: write to uid_map failed: Operation not permitted\", or Podman's \"should have setuid or have filecaps setuid\" (podman-container-tools/podman#7106, podman-container-tools/podman#13794).")
		if foreign != "" {
			r = r.Detail("%s is not in a system directory: a copy earlier on PATH (a self-built shadow under $HOME or /usr/local) hides the packaged one, so reinstalling the package does not help until it is removed.", foreign)
		}
		// Not an install intent: the package is installed, so an install step would be a
		// no-op and the finding would stay. Restoring the privilege is a reinstall or a
		// chmod, which a person chooses (a foreign copy on PATH changes the answer).
		r = r.Detail("Reinstalling %s restores the setuid bit or file capabilities (lost by image builds, rsync without -X or rpm-ostree; rootless-containers/rootlesskit#326, coreos/rpm-ostree#4765). By hand: `chmod u+s` on both binaries, or `setcap cap_setuid+ep` on newuidmap and `setcap cap_setgid+ep` on newgidmap.", pkg).
			Fix(finding.ManualStep("newuidmap-privilege", fmt.Sprintf(
				"restore the privilege of newuidmap and newgidmap: reinstall %s, or run chmod u+s %s",
				pkg, strings.Join(paths, " "))))
	}
	return r
}

// findOffPath looks for a helper in the directories distributions install it to, for when
// it is not on PATH.
func findOffPath(e *facts.Env, name string) string {
	for _, dir := range []string{"/usr/bin", "/usr/sbin", "/bin", "/sbin"} {
		if p, err := e.LookPath(dir + "/" + name); err == nil {
			return p
		}
	}
	return ""
}

// judgeHelper decides whether one helper can do its job for the account.
func judgeHelper(e *facts.Env, h idmapHelper, fi host.FileInfo) helperVerdict {
	p, mode, uid, capsText := fi.Path, fi.Mode, fi.UID, fi.Caps
	setuidRoot := mode&fs.ModeSetuid != 0 && uid == 0
	caps, capErr := parse.ParseFileCaps(capsText)
	eff, perm := caps.Flags(h.capVal)
	capOK := perm && caps.RootID == 0
	v := helperVerdict{status: finding.Pass}
	switch {
	case !canExec(e, fi):
		return helperVerdict{status: finding.Fail, summary: fmt.Sprintf("%s (mode %s, owner %d) is not executable by %s", p, octalMode(mode), uid, e.User.Name)}
	case setuidRoot:
		v.summary = h.name + " is setuid root"
	case capOK:
		v.summary = fmt.Sprintf("%s has %s", h.name, h.capName)
	default:
		v = helperVerdict{status: finding.Fail, summary: fmt.Sprintf("%s is neither setuid root nor has the file capability %s", p, h.capName)}
		switch {
		case mode&fs.ModeSetuid != 0:
			v.details = append(v.details, fmt.Sprintf("%s is setuid but owned by uid %d, not root.", p, uid))
		case capErr != nil:
			v.details = append(v.details, fmt.Sprintf("Its file capabilities could not be read: %v.", capErr))
		case perm && caps.RootID != 0:
			v.details = append(v.details, fmt.Sprintf("Its file capabilities %q are namespaced to root id %d: they apply only inside that user namespace, never on the host.", caps.String(), caps.RootID))
		case capsText != "":
			v.details = append(v.details, fmt.Sprintf("Its file capabilities %q do not include %s in the permitted set.", caps.String(), h.capName))
		}
		return v
	}
	if mnt := nosuidMount(e, p); mnt != "" {
		return helperVerdict{status: finding.Fail, nosuid: mnt,
			summary: fmt.Sprintf("%s is on %s, mounted nosuid, which ignores its setuid bit and file capabilities", p, mnt)}
	}
	if !setuidRoot && !eff {
		// shadow built with libcap raises the effective bit itself (lib/idmapping.c,
		// write_mapping); a build without it does not.
		return helperVerdict{status: finding.Warn,
			summary: fmt.Sprintf("%s has %s only in the permitted set (%q), not effective", p, h.capName, caps.String()),
			details: []string{"This works only when shadow was built with capability support; distributions set " + h.capName + "=ep."}}
	}
	return v
}

// canExec reports whether the account may execute the file: the x bit of the class (owner,
// group, other) the account falls in, as the kernel checks it.
func canExec(e *facts.Env, fi host.FileInfo) bool {
	perm := fi.Mode.Perm()
	if e.UserErr != nil || e.User.UID == 0 {
		return perm&0o111 != 0
	}
	shift := 0 // other
	if fi.UID == e.User.UID {
		shift = 6
	} else if e.InGroup(fi.GID) {
		shift = 3
	}
	return perm>>shift&1 != 0
}

// octalMode prints permission bits with setuid/setgid/sticky the way chmod takes them ("4755").
func octalMode(m fs.FileMode) string {
	n := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		n |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		n |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		n |= 0o1000
	}
	return fmt.Sprintf("%04o", n)
}

// systemDir reports whether dir is where distributions install binaries.
func systemDir(dir string) bool {
	switch dir {
	case "/usr/bin", "/bin", "/usr/sbin", "/sbin":
		return true
	}
	return strings.HasPrefix(dir, "/nix/store/") || strings.HasPrefix(dir, "/run/wrappers/") // NixOS
}

// nosuidMount returns the mount point of the mount that holds p when that mount is nosuid
// ("" otherwise, or when /proc/self/mountinfo cannot be read). On a nosuid mount the kernel
// ignores both the setuid bit and file capabilities (mnt_may_suid in the exec path), so a
// perfectly installed newuidmap is powerless there.
func nosuidMount(e *facts.Env, p string) string {
	// The run's mount table (read and parsed once, not once per binary: issue 16).
	if m := e.MountOf(p); m != nil && slices.Contains(strings.Split(m.Options, ","), "nosuid") {
		return m.Mountpoint
	}
	return ""
}
