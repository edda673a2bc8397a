package fixes

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/distro"
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

// sudoSysctls are the sysctls, and the only value of each, that probes ask for: the user
// namespace switches (userns.clone, userns.max and the live proof's explanations) and the
// optional ping and port ranges (net.ping, net.privileged-ports).
var sudoSysctls = map[string]string{
	"kernel.unprivileged_userns_clone":    "1",
	"user.max_user_namespaces":            "28633",
	"net.ipv4.ping_group_range":           "0 2147483647",
	"net.ipv4.ip_unprivileged_port_start": "0",
}

// sudoModules are the kernel modules probes ask to load: tun (net.tun), fuse (storage.driver)
// and the iptables backends rootless dockerd needs (net.iptables).
var sudoModules = []string{
	"tun", "fuse", "ip_tables", "iptable_filter", "iptable_nat", "nf_tables", "nft_chain_nat",
	"nft_chain_nat_ipv4", "br_netfilter",
}

// sudoDevices are the device nodes, and the mode, probes ask to open up (net.tun,
// storage.driver).
var sudoDevices = map[string]string{"/dev/net/tun": "0666", "/dev/fuse": "0666"}

// sudoControllers are the cgroup controllers probes ask to delegate (cgroup.delegation).
var sudoControllers = []string{"cpu", "cpuset", "io", "memory", "pids"}

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
			return fmt.Errorf("%w: %s (asked by %s): %w", ErrRefused, r.Intent.ID(), r.ProbeID, err)
		}
	}
	return nil
}

func checkSudo(in finding.Intent, account string, h host.Host) error {
	switch in.Kind {
	case finding.Package:
		if !slices.Contains(distro.Tools, distro.Tool(in.Tool)) {
			return fmt.Errorf("no probe installs %q", in.Tool)
		}
	case finding.Module:
		if !slices.Contains(sudoModules, in.Name) {
			return fmt.Errorf("no probe loads the module %q", in.Name)
		}
	case finding.Sysctl:
		if v, ok := sudoSysctls[in.Key]; !ok || v != in.Value {
			return fmt.Errorf("no probe sets %s=%s", in.Key, in.Value)
		}
	case finding.SubIDs:
		if in.User != account {
			return fmt.Errorf("subordinate ids for %q: an account may ask only for its own (%s)", in.User, account)
		}
		if in.Count < 0 || in.Count > parse.MinSubIDs {
			return fmt.Errorf("%d subordinate ids: probes ask for at most %d", in.Count, parse.MinSubIDs)
		}
	case finding.Linger:
		if in.User != account {
			return fmt.Errorf("lingering for %q: an account may ask only for its own (%s)", in.User, account)
		}
	case finding.Device:
		if m, ok := sudoDevices[in.Path]; !ok || m != in.Mode {
			return fmt.Errorf("no probe sets %s to mode %s", in.Path, in.Mode)
		}
	case finding.Delegate:
		for _, c := range in.Controllers {
			if !slices.Contains(sudoControllers, c) {
				return fmt.Errorf("no probe delegates the controller %q", c)
			}
		}
	case finding.AppArmor:
		return rootOnly(h, in.Path)
	case finding.Relogin, finding.Manual:
		// Printed, never run.
	default:
		return fmt.Errorf("unknown kind %q", in.Kind)
	}
	return nil
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
