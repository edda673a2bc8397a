package checks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"

	"github.com/moby/sys/user"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

const pingSysctl = "net.ipv4.ping_group_range"

// pingOpen is the range Docker's rootless docs and systemd's 50-default.conf (systemd ≥ 243)
// set: every group may open ICMP echo sockets.
const pingOpen = "0 2147483647"

var netPing = Probe{
	ID:    "net.ping",
	Title: "ping from containers",
	Fails: "the account's groups are outside it (warn, optional fix)",
	Why: "slirp4netns and pasta forward a container's ping through unprivileged ICMP echo sockets " +
		"they open on the host as the account, which the kernel allows only for groups inside " +
		"net.ipv4.ping_group_range. The kernel default \"1 0\" allows nobody, and without systemd's " +
		"sysctl defaults (RHEL, minimal Debian) `ping` in a container fails with " +
		"`ping: socket: Operation not permitted` (podman#1779, podman#8975, systemd/systemd#13141).",
	Reads: []string{facts.SysctlPath(pingSysctl), "/etc/subgid"},
	Fixes: []finding.Kind{finding.Sysctl},
	Run:   runNetPing,
}

func runNetPing(_ context.Context, e *facts.Env) finding.Result {
	s, err := e.Sysctl(pingSysctl)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// The key exists since Linux 3.0 (2011); its absence means /proc/sys is not the host's.
		return finding.Undecided(err, "%s does not exist", facts.SysctlPath(pingSysctl))
	case err != nil:
		return finding.Undecided(err, "cannot read %s", facts.SysctlPath(pingSysctl))
	}
	r := finding.Result{}.With(facts.SysctlPath(pingSysctl), s)
	rng, err := parse.ParsePingGroupRange(s)
	if err != nil {
		r.Err, r.Summary = err, fmt.Sprintf("cannot parse %s", pingSysctl)
		return r
	}
	fix := finding.SetSysctl(pingSysctl, pingOpen, "let containers use ping (unprivileged ICMP echo sockets)").Optionally()
	if rng.Disabled() {
		return r.WithStatus(finding.Warn, "ping will not work in containers: %s is %q, which allows no group", pingSysctl, rng.String()).
			Detail("Only ping (ICMP echo) is affected; TCP and UDP work.").
			Fix(fix)
	}
	if skip, ok := e.NeedUser(); !ok {
		skip.Evidence = r.Evidence
		return skip
	}
	u := e.User
	// The kernel accepts the socket if the caller's gid or any supplementary group is in range.
	match := -1
	for _, g := range append([]int{u.GID}, u.Groups...) {
		if rng.Contains(int64(g)) {
			match = g
			break
		}
	}
	if match < 0 {
		return r.WithStatus(finding.Warn, "ping will not work in containers: no group of %s (gid %d) is in %s %q", u.Name, u.GID, pingSysctl, rng.String()).
			Fix(fix)
	}
	r = r.WithStatus(finding.Pass, "%s %q includes gid %d of %s", pingSysctl, rng.String(), match, u.Name)
	for _, sg := range pingSubGIDs(e) {
		last := sg.SubID + sg.Count - 1
		if sg.Count > 0 && (!rng.Contains(sg.SubID) || !rng.Contains(last)) {
			r = r.Detail("The subordinate gids %d–%d of %s are not all in the range: processes of a container that shares the host's network namespace (podman --network=host) cannot ping as those groups.", sg.SubID, last, u.Name)
		}
	}
	return r
}

// pingSubGIDs are the account's /etc/subgid entries (by name or uid), nil when unreadable.
// user.ParseSubID does not skip comments, so they are dropped first.
func pingSubGIDs(e *facts.Env) []user.SubID {
	data, err := e.Host.ReadFile("/etc/subgid")
	if err != nil {
		return nil
	}
	var clean bytes.Buffer
	for line := range bytes.Lines(data) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			clean.Write(t)
			clean.WriteByte('\n')
		}
	}
	ids, err := user.ParseSubID(&clean)
	if err != nil {
		return nil
	}
	uid := strconv.Itoa(e.User.UID)
	var out []user.SubID
	for _, id := range ids {
		if id.Name == e.User.Name || id.Name == uid {
			out = append(out, id)
		}
	}
	return out
}
