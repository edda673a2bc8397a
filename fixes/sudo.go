package fixes

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// The sudo helper's contract (docs/security.md, "The sudo helper"). `fix --apply` run by an
// ordinary account shows the plan, and after confirmation starts `sudo rootless-doctor
// __apply-helper` and sends it the requests the plan was built from and the plan's digest.
// The helper, as root, checks every request against what a probe can ask for and what the
// calling account may ask for (CheckSudo), builds the plan again itself from the host it
// reads (Build), compares its digest with the one the account was shown (Digest), and only
// then applies that plan. It runs no command, writes no file and reads no file it was named
// by the caller: anything else is refused before anything changes.

// ErrRefused is returned (wrapped) for a request the sudo helper does not apply.
var ErrRefused = errors.New("refused by the sudo helper")

// Digest is the plan's digest: SHA-256 of its JSON form (every step, command, file with its
// full content, in order), the same bytes `fix -o json` prints.
func Digest(p Plan) string {
	b, err := json.Marshal(p)
	if err != nil {
		// A Plan is strings and bools: it always marshals.
		panic(err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// CheckSudo checks requests sent to the sudo helper by an ordinary account: each must be one
// a probe can make, with the values probes use, and changes that concern an account (its
// subordinate ids, lingering) may only concern account, the caller itself. An AppArmor profile
// is loaded only for a binary no account but root can change (root-owned and not writable by
// others, in directories that are too, no symlink on the way), read from h: a profile for a
// binary the account controls would let it put anything there. It returns the first refusal,
// wrapping ErrRefused.
func CheckSudo(reqs []Request, account string, h host.Host) error {
	for _, r := range reqs {
		if err := validate(r); err != nil {
			return fmt.Errorf("%w: %w", ErrRefused, err)
		}
		if err := checkSudo(r.Intent, account, h); err != nil {
			return fmt.Errorf("%w: %s (asked by %s): %w", ErrRefused, IntentID(r.Intent), r.ProbeID, err)
		}
	}
	return nil
}

func checkSudo(in finding.Intent, account string, h host.Host) error {
	k, ok := kindOf(in.Kind)
	if !ok {
		return fmt.Errorf("unknown kind %q", in.Kind)
	}
	return k.sudo(in, account, h)
}

// rootOnly checks that p is a regular file that only root can change: owned by root and not
// writable by group or others, and so is every directory above it; no component is a symlink.
func rootOnly(h host.Host, p string) error {
	if h == nil {
		return fmt.Errorf("%s: no host to check it on", p)
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := "/"
	for i := -1; i < len(parts); i++ {
		if i >= 0 {
			cur = strings.TrimSuffix(cur, "/") + "/" + parts[i]
		}
		fi, err := h.Lstat(cur)
		if err != nil {
			return fmt.Errorf("%s: %w", cur, err)
		}
		last := i == len(parts)-1
		switch {
		case fi.Mode&fs.ModeSymlink != 0:
			return fmt.Errorf("%s is a symlink: the profile would follow what it points to", cur)
		case last && !fi.Mode.IsRegular():
			return fmt.Errorf("%s is not a regular file", cur)
		case !last && !fi.IsDir():
			return fmt.Errorf("%s is not a directory", cur)
		case fi.UID != 0 || fi.Mode.Perm()&0o022 != 0:
			return fmt.Errorf("%s (uid %d, mode %04o) can be changed by an account other than root: no profile is loaded for it", cur, fi.UID, fi.Mode.Perm())
		}
	}
	return nil
}
