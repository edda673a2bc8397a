package snapshot

import (
	"bytes"
	"slices"
	"strconv"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
)

// KeepFilter is what `snapshot` keeps of the account databases, so that a snapshot
// attached to a bug report tells no more about the machine than the probes need:
//
//   - /etc/passwd: root, the checked account, and the accounts whose uid lies inside a range
//     of /etc/subuid (idmap.subuid reports a range that holds a real uid: those are the only
//     other lines it reads). Passwords are "x" and the GECOS field is emptied.
//   - /etc/group: gid 0, the account's primary group, the groups it is a member of (with
//     only the account left in the member list), and the groups whose gid lies inside a range
//     of /etc/subgid (idmap.subgid's overlap check). Passwords are "x".
//   - /etc/subuid and /etc/subgid are kept whole: whether the account's ranges overlap
//     another account's is the point of idmap.subuid/subgid, and that needs every range.
//   - Podman quadlets (a ".../containers/systemd/" path, read by process.no-new-privs) lose
//     their Environment= and Secret= lines: they carry credentials, and no probe reads them.
//   - systemd user units and drop-ins lose the user:password@ of URLs (proxy credentials).
//
// Other files are written as read. The replayed fix plan may differ from the live one where
// the planner would have stepped around a dropped account's uid; the probe results do not.
func KeepFilter(e *facts.Env, subuid, subgid []byte) Filter {
	uidRanges := parse.ParseSubIDs(subuid).Ranges
	gidRanges := parse.ParseSubIDs(subgid).Ranges
	inRanges := func(rs []parse.SubIDRange, id int64) bool {
		for _, r := range rs {
			if r.Contains(id) {
				return true
			}
		}
		return false
	}
	known := e.UserErr == nil
	u := e.User
	return func(path string, data []byte) []byte {
		switch path {
		case "/etc/passwd":
			return keepLines(data, func(f []string) ([]string, bool) {
				if len(f) < 7 {
					return nil, false
				}
				uid, err := strconv.ParseInt(f[2], 10, 64)
				if err != nil {
					return nil, false
				}
				keep := uid == 0 || inRanges(uidRanges, uid) ||
					(known && (f[0] == u.Name || uid == int64(u.UID))) ||
					(!known && f[0] == e.Requested)
				f[1], f[4] = "x", ""
				return f, keep
			})
		case "/etc/group":
			return keepLines(data, func(f []string) ([]string, bool) {
				if len(f) < 4 {
					return nil, false
				}
				gid, err := strconv.ParseInt(f[2], 10, 64)
				if err != nil {
					return nil, false
				}
				member := false
				if known {
					for _, m := range strings.Split(f[3], ",") {
						member = member || m == u.Name
					}
				}
				keep := gid == 0 || member || inRanges(gidRanges, gid) || (known && gid == int64(u.GID))
				f[1], f[3] = "x", ""
				if member {
					f[3] = u.Name
				}
				return f, keep
			})
		case facts.DpkgStatusPath:
			return keepStanzas(data, e.DpkgAsked())
		}
		if strings.Contains(path, "/containers/systemd/") {
			return dropAssignments(data, "Environment", "Secret")
		}
		if strings.Contains(path, "/systemd/user/") {
			// Users put HTTP(S)_PROXY with credentials into docker.service drop-ins; net.proxy
			// needs only the host and port.
			return []byte(parse.RedactUserinfo(string(data)))
		}
		return data
	}
}

// dropAssignments removes the unit-file lines that assign one of names ("Environment=…",
// with or without blanks around the "="), and the continuation lines of such an assignment.
func dropAssignments(data []byte, names ...string) []byte {
	var out bytes.Buffer
	dropping := false
	for _, line := range strings.SplitAfter(string(data), "\n") {
		t := strings.TrimSpace(line)
		if !dropping {
			key, _, ok := strings.Cut(t, "=")
			dropping = ok && slices.Contains(names, strings.TrimSpace(key))
		}
		if !dropping {
			out.WriteString(line)
		}
		// A line ending in a backslash continues the assignment (systemd.syntax(7)).
		dropping = dropping && strings.HasSuffix(t, "\\")
	}
	return out.Bytes()
}

// keepStanzas keeps the stanzas of dpkg's database (deb822 paragraphs, separated by blank
// lines) whose Package is one of pkgs: what the probes looked up (facts.Env.DpkgAsked), not
// every installed package (issue 15). A stanza is kept whole, in its order.
func keepStanzas(data []byte, pkgs []string) []byte {
	var out bytes.Buffer
	for _, st := range bytes.Split(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), []byte("\n\n")) {
		st = bytes.Trim(st, "\n")
		if len(st) == 0 {
			continue
		}
		for _, line := range bytes.Split(st, []byte("\n")) {
			name, ok := bytes.CutPrefix(line, []byte("Package:"))
			if ok && slices.Contains(pkgs, string(bytes.TrimSpace(name))) {
				out.Write(st)
				out.WriteString("\n\n")
				break
			}
		}
	}
	return out.Bytes()
}

// keepLines keeps the colon-separated lines fn accepts, as fn rewrote them; comments, blank
// and garbled lines go.
func keepLines(data []byte, fn func([]string) ([]string, bool)) []byte {
	var out bytes.Buffer
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f, ok := fn(strings.Split(line, ":"))
		if ok {
			out.WriteString(strings.Join(f, ":"))
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}
