package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

var identityUser = Probe{
	ID:    "identity.user",
	Title: "Account",
	Fails: "running as root without `--user`; account unknown; home (or $HOME) missing or not writable; running with a primary group other than the passwd one",
	Why: "Rootless mode runs the engine as an ordinary account: its uid owns the user namespace, " +
		"its subordinate ids are mapped, and its home holds the images. Running the doctor (or the " +
		"engine) as root checks nothing useful: as root, pass --user NAME to check that account. " +
		"newuidmap also insists that the process it maps runs with the account's primary group " +
		"from /etc/passwd (shadow's src/newuidmap.c: \"Target process is owned by a different user\"), " +
		"which a shell under sg or newgrp, or a container started with --user UID:GID, does not " +
		"(actions/actions-runner-controller#4234, docs/failures/catalogue.json#primary-gid-mismatch-newuidmap).",
	Reads: []string{"the running uid", "/etc/passwd (then `getent passwd`)", "/etc/group", "the home directory",
		"$HOME (when checking the running account)", "/proc/self/status (Gid)", "/etc/login.defs (GRANT_AUX_GROUP_SUBIDS)"},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runIdentityUser,
}

func runIdentityUser(_ context.Context, e *facts.Env) finding.Result {
	if e.UserErr != nil {
		r := finding.Failf("cannot resolve the account: %v", e.UserErr)
		if errors.Is(e.UserErr, facts.ErrUnknownUser) {
			r = finding.Failf("the account %q does not exist", accountName(e))
		}
		return r.Detail("error: %v", e.UserErr)
	}
	u := e.User
	r := finding.Result{}.With(u.Source, fmt.Sprintf("%s uid=%d gid=%d home=%s", u.Name, u.UID, u.GID, u.Home))
	if u.UID == 0 {
		if e.Requested == "" {
			return r.WithStatus(finding.Fail, "running as root: rootless containers are for an ordinary account").
				Detail("Run rootless-doctor as the account that will run containers, or as root with --user NAME (image builds do this).")
		}
		return r.WithStatus(finding.Fail, "%s is root: rootless containers are for an ordinary account", u.Name)
	}
	if u.Home == "" {
		return r.WithStatus(finding.Fail, "%s has no home directory in its passwd entry", u.Name).
			Detail("Engines keep images and state under the home directory (~/.local/share/docker, ~/.local/share/containers).")
	}
	fi, err := e.Host.Stat(u.Home)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return r.WithStatus(finding.Fail, "the home directory %s of %s does not exist", u.Home, u.Name).
			Fix(finding.ManualStep("create-home", fmt.Sprintf("create the home directory %s owned by %s (mkhomedir_helper %s)", u.Home, u.Name, u.Name)))
	case err != nil:
		return finding.Undecided(err, "cannot stat the home directory %s", u.Home)
	case !fi.IsDir():
		return r.WithStatus(finding.Fail, "the home %s of %s is not a directory", u.Home, u.Name)
	}
	r = r.With(u.Home, fmt.Sprintf("owner=%d mode=%04o", fi.UID, fi.Mode.Perm()))
	if !canWriteDir(e, fi) {
		return r.WithStatus(finding.Fail, "%s cannot write to its home directory %s", u.Name, u.Home).
			Detail("The home directory is owned by uid %d with mode %04o; images and engine state go under it.", fi.UID, fi.Mode.Perm())
	}
	if res, bad := envHome(e, r); bad {
		return res
	}
	if res, bad := primaryGroup(e, r); bad {
		return res
	}
	return r.WithStatus(finding.Pass, "%s (uid %d), home %s", u.Name, u.UID, u.Home)
}

// envHome judges $HOME of the running process when it is not the passwd home: Podman takes
// its configuration, database and storage paths from $HOME (containers/storage
// pkg/homedir), and stops at the first mkdir when it is missing or not writable — a unit
// with a copied Environment=HOME, `sudo -u` keeping the caller's
// (podman-container-tools/podman#8131, #27921; docs/failures/catalogue.json#home-missing-or-unwritable).
func envHome(e *facts.Env, r finding.Result) (finding.Result, bool) {
	u := e.User
	h, ok := e.Getenv("HOME")
	if !ok || h == "" || h == u.Home || strings.TrimSuffix(h, "/") == strings.TrimSuffix(u.Home, "/") {
		return r, false
	}
	r = r.With("$HOME", finding.ClipLine(h, 200))
	fix := finding.ManualStep("home-env", fmt.Sprintf("start the engine with HOME=%s, the home directory of %s in /etc/passwd (a unit's Environment=HOME=, or sudo -H / sudo -i)", u.Home, u.Name))
	if !path.IsAbs(h) {
		return r.WithStatus(finding.Fail, "$HOME is %q, not an absolute path; Podman derives its storage paths from it", finding.ClipLine(h, 100)).Fix(fix), true
	}
	fi, err := e.Host.Stat(h)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return r.WithStatus(finding.Fail, "$HOME is %s, which does not exist (the passwd home of %s is %s); Podman stops at its first mkdir there", h, u.Name, u.Home).Fix(fix), true
	case err != nil:
		return r.Detail("Could not stat $HOME=%s: %v.", h, err), false
	case !fi.IsDir():
		return r.WithStatus(finding.Fail, "$HOME is %s, which is not a directory", h).Fix(fix), true
	case !canWriteDir(e, fi):
		return r.With(h, fmt.Sprintf("owner=%d mode=%04o", fi.UID, fi.Mode.Perm())).
			WithStatus(finding.Fail, "$HOME is %s, which %s cannot write (owner uid %d, mode %04o); Podman keeps its storage under it", h, u.Name, fi.UID, fi.Mode.Perm()).
			Detail("$HOME usually differs from the passwd home after `sudo -u`, which keeps the caller's, or in a unit that sets it.").Fix(fix), true
	}
	return r.Detail("$HOME is %s, not the passwd home %s: engines keep their state under $HOME.", h, u.Home), false
}

// primaryGroup compares the group the running process has with the account's primary group
// in /etc/passwd. newuidmap and newgidmap refuse to write the map of a process whose real gid
// is not pw_gid, unless login.defs sets GRANT_AUX_GROUP_SUBIDS (shadow src/newuidmap.c: "Target
// process is owned by a different user: … gid:123 pw_gid:12345"): a shell under sg or newgrp,
// a container or runner pod started with --user UID:GID or runAsGroup
// (actions/actions-runner-controller#4234, docs/failures/catalogue.json#primary-gid-mismatch-newuidmap).
func primaryGroup(e *facts.Env, r finding.Result) (finding.Result, bool) {
	u := e.User
	if e.OnBehalf || e.Host.Self().UID != u.UID {
		return r, false
	}
	gid := e.Host.Self().GID
	src := "the process's group"
	if st, err := e.ProcStatus(); err == nil {
		// Gid: real, effective, saved, filesystem; newuidmap compares the real one.
		if f := strings.Fields(st["Gid"]); len(f) > 0 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				gid, src = n, facts.ProcStatusPath
			}
		}
	}
	if gid == u.GID {
		return r, false
	}
	r = r.With(src, fmt.Sprintf("real gid %d", gid))
	if data, err := e.Host.ReadFile("/etc/login.defs"); err == nil {
		if v, ok := parse.ParseLoginDefs(data)["GRANT_AUX_GROUP_SUBIDS"]; ok && strings.EqualFold(v, "yes") {
			return r.With("/etc/login.defs", "GRANT_AUX_GROUP_SUBIDS "+finding.Clip(v, 20)).
				Detail("This process runs with gid %d, not %s's primary gid %d; /etc/login.defs sets GRANT_AUX_GROUP_SUBIDS, so newuidmap accepts it.", gid, u.Name, u.GID), false
		}
	}
	return r.WithStatus(finding.Fail, "this process runs with gid %d, not %s's primary gid %d from /etc/passwd: newuidmap refuses to map it", gid, u.Name, u.GID).
		Detail("newuidmap and newgidmap check that the process they map runs with the account's passwd group and stop with \"Target process is owned by a different user: … gid:%d pw_gid:%d\" (shadow src/newuidmap.c).", gid, u.GID).
		Detail("A shell under sg or newgrp, or a container started with --user %d:%d (Kubernetes runAsGroup), runs with another group.", u.UID, gid).
		Fix(finding.ManualStep("primary-group", fmt.Sprintf(
			"start the engine with %s's primary group %d from /etc/passwd (not under sg or newgrp; a container with --user %d:%d, a pod with runAsGroup: %d), or make %d its primary group (usermod -g %d %s)",
			u.Name, u.GID, u.UID, u.GID, u.GID, gid, gid, u.Name))), true
}

func accountName(e *facts.Env) string {
	if e.Requested != "" {
		return e.Requested
	}
	return fmt.Sprintf("uid %d", e.Host.Self().UID)
}

// canWriteDir reports whether the account may create entries in a directory (write and
// search permission for the class it falls in).
func canWriteDir(e *facts.Env, fi host.FileInfo) bool { return e.Permits(fi, 0o3) }
