package parse

import (
	"bytes"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// CgroupEntry is one line of /proc/PID/cgroup: "hierarchy-ID:controller-list:cgroup-path"
// (cgroups(7)). The cgroup v2 line is "0::PATH"; v1 lines name their controllers
// ("4:memory:/user.slice") or a named hierarchy ("1:name=systemd:/…").
type CgroupEntry struct {
	ID          int
	Controllers []string
	Path        string
}

// ParseProcCgroup parses /proc/PID/cgroup. The kernel writes it, so any malformed line means
// the bytes did not come from the kernel (a hand-edited snapshot): the whole file is rejected
// rather than half-trusted.
//
// containerd/cgroups' ParseCgroupFileUnified does the same job but only from a path on the
// real filesystem; probes read through the Host so that --root replays it.
func ParseProcCgroup(data []byte) ([]CgroupEntry, error) {
	var out []CgroupEntry
	for n, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		// The path is everything after the second colon: a cgroup name may hold colons.
		parts := strings.SplitN(string(line), ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("line %d: %q is not ID:CONTROLLERS:PATH", n+1, finding.Clip(string(line), maxText))
		}
		id, err := strconv.Atoi(parts[0])
		if err != nil || id < 0 {
			return nil, fmt.Errorf("line %d: hierarchy id %q is not a non-negative number", n+1, finding.Clip(parts[0], maxText))
		}
		if !strings.HasPrefix(parts[2], "/") {
			return nil, fmt.Errorf("line %d: cgroup path %q is not absolute", n+1, finding.Clip(parts[2], maxText))
		}
		e := CgroupEntry{ID: id, Path: parts[2]}
		if parts[1] != "" {
			e.Controllers = strings.Split(parts[1], ",")
		}
		out = append(out, e)
	}
	return out, nil
}

// UnifiedCgroupPath is the path of the cgroup v2 entry ("0::PATH"), relative to the cgroup2
// mount (/sys/fs/cgroup on a unified host).
func UnifiedCgroupPath(entries []CgroupEntry) (string, bool) {
	for _, e := range entries {
		if e.ID == 0 && len(e.Controllers) == 0 {
			return e.Path, true
		}
	}
	return "", false
}

// UserServiceCgroup cuts a cgroup path after its "user@UID.service" component: the cgroup of
// the user's systemd manager, which is where systemd delegates controllers
// (".../user@1000.service/app.slice/foo.service" → ".../user@1000.service"). ok is false when
// the path is not inside that uid's user manager.
func UserServiceCgroup(cgroupPath string, uid int) (string, bool) {
	want := "user@" + strconv.Itoa(uid) + ".service"
	p := path.Clean("/" + cgroupPath)
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, part := range parts {
		if part == want {
			return "/" + strings.Join(parts[:i+1], "/"), true
		}
	}
	return "", false
}

// ParseControllers parses a cgroup.controllers (or cgroup.subtree_control) file: controller
// names separated by spaces. Duplicates are dropped; a name that is not a controller name
// (lower-case letters, digits, '_') is an error.
func ParseControllers(data []byte) ([]string, error) {
	out := []string{}
	seen := map[string]bool{}
	for _, f := range strings.Fields(string(data)) {
		if !validController(f) {
			return nil, fmt.Errorf("%q is not a cgroup controller name", finding.Clip(f, maxText))
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out, nil
}

func validController(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Missing returns the names of want that are not in have, in want's order.
func Missing(have, want []string) []string {
	set := map[string]bool{}
	for _, h := range have {
		set[h] = true
	}
	var out []string
	for _, w := range want {
		if !set[w] {
			out = append(out, w)
		}
	}
	return out
}
