package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var limitsKeys = Probe{
	ID:    "limits.keys",
	Title: "Kernel key quota",
	Fails: "the account has fewer than 20 keys or 2,000 bytes of its key quota left (warn)",
	Why: "runc and crun give every container a session keyring of its own, charged to the " +
		"account's key quota: kernel.keys.maxkeys keys (200 by default) and kernel.keys.maxbytes " +
		"bytes (20,000) per uid (https://docs.kernel.org/security/keys/core.html). Keyrings of " +
		"containers that ended badly stay charged, and once the quota is used up a container " +
		"start fails with \"join session keyring: create session key: disk quota exceeded\" " +
		"(taskcluster/taskcluster#7221, opencontainers/runc#726; " +
		"docs/failures/catalogue.json#keyring-quota-exhausted).",
	Reads: []string{"/proc/key-users (the account's line: its keys and bytes, and the kernel.keys.maxkeys and maxbytes quotas that apply to it)"},
	Fixes: []finding.Kind{finding.Sysctl},
	Run:   runLimitsKeys,
}

const (
	keysMaxKeys   = "kernel.keys.maxkeys"
	keysMaxBytes  = "kernel.keys.maxbytes"
	procKeyUsers  = "/proc/key-users"
	keysFixKeys   = 20000
	keysFixBytes  = 2000000
	keysLeftKeys  = 20   // each container start takes one session keyring
	keysLeftBytes = 2000 // a keyring charges its description, "_ses." and the container id
	keysReason    = "raise the per-uid key quota: every rootless container takes a session keyring from it"
)

func runLimitsKeys(_ context.Context, e *facts.Env) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	data, err := e.Host.ReadFile(procKeyUsers)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return finding.Skipf("%s is absent (a kernel without key management, CONFIG_KEYS, where containers get no keyrings, or a recording without it)", procKeyUsers)
	case err != nil:
		return finding.Undecided(err, "cannot read %s", procKeyUsers)
	}
	u, ok := parse.ParseKeyUsers(data)[int64(e.User.UID)]
	if !ok {
		return finding.Result{}.With(procKeyUsers, fmt.Sprintf("no line for uid %d", e.User.UID)).
			WithStatus(finding.Pass, "%s owns no keys", e.User.Name)
	}
	r := finding.Result{}.With(procKeyUsers, fmt.Sprintf("uid %d: %d/%d keys, %d/%d bytes", u.UID, u.QNKeys, u.MaxKeys, u.QNBytes, u.MaxBytes))
	if e.User.UID == 0 {
		return r.WithStatus(finding.Pass, "root's key quota is kernel.keys.root_maxkeys, not an account's")
	}
	keysLeft, bytesLeft := u.MaxKeys-u.QNKeys, u.MaxBytes-u.QNBytes
	if keysLeft >= keysLeftKeys && bytesLeft >= keysLeftBytes {
		// The counts move with every login and keyctl call: evidence, not the summary, which a
		// snapshot's replay must reproduce.
		return r.WithStatus(finding.Pass, "%s's key quota (%d keys, %d bytes) has room", e.User.Name, u.MaxKeys, u.MaxBytes)
	}
	if keysLeft < keysLeftKeys {
		r = r.WithStatus(finding.Warn, "%s can own only about %d more keys", e.User.Name, max(keysLeft, 0))
	} else {
		r = r.WithStatus(finding.Warn, "%s can own only %d more bytes of keys", e.User.Name, max(bytesLeft, 0))
	}
	r = r.Detail("%s holds %d of the %d keys (%s) and %d of the %d bytes (%s) the kernel lets one uid own.",
		e.User.Name, u.QNKeys, u.MaxKeys, keysMaxKeys, u.QNBytes, u.MaxBytes, keysMaxBytes).
		Detail("Each container start takes a session keyring; when none is left it fails with \"join session keyring: create session key: disk quota exceeded\". Keyrings of running containers are freed when they stop; those of containers that ended badly only when nothing refers to them any more. Podman can do without them: keyring = false in [containers] of containers.conf.")
	var fixes []finding.Intent
	if u.MaxKeys < keysFixKeys {
		fixes = append(fixes, finding.SetSysctl(keysMaxKeys, strconv.Itoa(keysFixKeys), keysReason))
	}
	if u.MaxBytes < keysFixBytes {
		fixes = append(fixes, finding.SetSysctl(keysMaxBytes, strconv.Itoa(keysFixBytes), keysReason))
	}
	if len(fixes) == 0 {
		return r.Detail("The quota is already above what the fix would set: the keys in use are the problem (keyctl show, or stop the containers that hold them).")
	}
	return r.Fix(fixes...)
}
