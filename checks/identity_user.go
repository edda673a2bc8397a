package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

var identityUser = Probe{
	ID:    "identity.user",
	Title: "Account",
	Fails: "running as root without `--user`; account unknown; home missing or not writable",
	Why: "Rootless mode runs the engine as an ordinary account: its uid owns the user namespace, " +
		"its subordinate ids are mapped, and its home holds the images. Running the doctor (or the " +
		"engine) as root checks nothing useful: as root, pass --user NAME to check that account.",
	Reads: []string{"the running uid", "/etc/passwd (then `getent passwd`)", "/etc/group", "the home directory"},
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
	return r.WithStatus(finding.Pass, "%s (uid %d), home %s", u.Name, u.UID, u.Home)
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
