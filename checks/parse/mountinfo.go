package parse

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
)

// ErrNoMounts is returned by ParseMountinfo for input without a single mount entry: a real
// mountinfo always lists at least the root of the process.
var ErrNoMounts = errors.New("mountinfo lists no mounts")

// ParseMountinfo parses /proc/<pid>/mountinfo (proc(5)) with moby/sys/mountinfo's
// GetMountsFromReader, which unescapes octal sequences (\040 for a space) in paths and copes
// with the pre-3.10 cifs space bug. A line it cannot parse is an error: a truncated or foreign
// file must not pass for a mount table.
func ParseMountinfo(data []byte) ([]*mountinfo.Info, error) {
	mounts, err := mountinfo.GetMountsFromReader(bytes.NewReader(data), nil)
	if err != nil {
		return nil, fmt.Errorf("parsing mountinfo: %w", err)
	}
	if len(mounts) == 0 {
		return nil, ErrNoMounts
	}
	return mounts, nil
}

// MountAt returns the mount whose mount point is exactly p, or nil. When several mounts are
// stacked on the same point the last one listed is returned: mountinfo lists mounts in the
// order they were made, and the last one made on a point is the one that is visible.
func MountAt(mounts []*mountinfo.Info, p string) *mountinfo.Info {
	p = path.Clean("/" + p)
	var found *mountinfo.Info
	for _, m := range mounts {
		if m != nil && m.Mountpoint == p {
			found = m
		}
	}
	return found
}

// MountFor returns the mount that holds path p: the mount whose mount point is the longest
// prefix of p (the topmost when stacked), or nil. p should have its symlinks resolved; the
// mount points in mountinfo are.
func MountFor(mounts []*mountinfo.Info, p string) *mountinfo.Info {
	p = path.Clean("/" + p)
	var found *mountinfo.Info
	best := -1
	for _, m := range mounts {
		if m == nil {
			continue
		}
		mp := m.Mountpoint
		if mp != "/" && mp != p && !strings.HasPrefix(p, mp+"/") {
			continue
		}
		if len(mp) >= best {
			found, best = m, len(mp)
		}
	}
	return found
}

// Propagation is the mount propagation of one mount, from the optional fields of its
// mountinfo line ("shared:1 master:2 propagate_from:3 unbindable"; see
// https://docs.kernel.org/filesystems/sharedsubtree.html).
type Propagation struct {
	// Shared is set by "shared:N"; PeerGroup is N.
	Shared    bool
	PeerGroup int
	// Slave is set by "master:N": the mount receives events from peer group Master.
	Slave  bool
	Master int
	// PropagateFrom is the nearest dominant peer group ("propagate_from:N"), 0 when absent.
	PropagateFrom int
	Unbindable    bool
}

// ParsePropagation reads the optional fields of a mountinfo line. Unknown tags are ignored
// (the kernel may add more), as are malformed numbers.
func ParsePropagation(optional string) Propagation {
	var p Propagation
	for _, f := range strings.Fields(optional) {
		tag, val, _ := strings.Cut(f, ":")
		n, _ := strconv.Atoi(val)
		switch tag {
		case "shared":
			p.Shared, p.PeerGroup = true, n
		case "master":
			p.Slave, p.Master = true, n
		case "propagate_from":
			p.PropagateFrom = n
		case "unbindable":
			p.Unbindable = true
		}
	}
	return p
}

// String names the propagation the way findmnt -o PROPAGATION does: "shared" or "private",
// then ",slave" and ",unbindable" where they apply.
func (p Propagation) String() string {
	s := "private"
	if p.Shared {
		s = "shared"
	}
	if p.Slave {
		s += ",slave"
	}
	if p.Unbindable {
		s += ",unbindable"
	}
	return s
}

// HasMountOption reports whether a comma-separated mount option list holds name, alone or
// as name=value.
func HasMountOption(options, name string) bool {
	for _, o := range strings.Split(options, ",") {
		if o == name || strings.HasPrefix(o, name+"=") {
			return true
		}
	}
	return false
}

// ProcOvermounts lists the mounts made over files and directories inside /proc (the masked
// and read-only paths a container engine sets up: /proc/kcore, /proc/keys, /proc/sys, …).
// The kernel refuses a fresh procfs mount in a new user namespace while such locked mounts
// hide parts of /proc (fs/namespace.c mnt_already_visible), which is what breaks rootless
// BuildKit in a container (moby/buildkit#4075). binfmt_misc and its systemd automount are
// left out: they sit on an empty procfs directory, which the kernel allows.
func ProcOvermounts(mounts []*mountinfo.Info) []string {
	var out []string
	for _, m := range mounts {
		if m == nil || !strings.HasPrefix(m.Mountpoint, "/proc/") {
			continue
		}
		if m.FSType == "binfmt_misc" || m.FSType == "autofs" {
			continue
		}
		out = append(out, m.Mountpoint)
	}
	return out
}

// HidePID is how a procfs mount hides the processes of other users (proc(5), "Mount
// options"): hidepid= and gid= of its super options.
type HidePID struct {
	// Level is 0 (off: every /proc/PID is visible), 1 (noaccess: visible, but their files
	// are closed to other users), 2 (invisible: other users' /proc/PID are not listed) or 4
	// (ptraceable: only processes one may ptrace are visible).
	Level int
	// Value is hidepid= as written ("2", "invisible"); "" when the option is absent.
	Value string
	// GID is gid=, the group exempt from the hiding; HasGID tells whether it is set.
	GID    int
	HasGID bool
}

// ParseHidePID reads hidepid= and gid= from the super options of a procfs mount
// ("rw,nosuid,nodev,noexec,relatime,hidepid=invisible,gid=27"). An unknown hidepid value is
// treated as 2, the strictest listing rule the kernel had before 5.8 named them.
func ParseHidePID(superOptions string) HidePID {
	var h HidePID
	for _, o := range strings.Split(superOptions, ",") {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "hidepid":
			h.Value = v
			switch v {
			case "0", "off":
				h.Level = 0
			case "1", "noaccess":
				h.Level = 1
			case "4", "ptraceable":
				h.Level = 4
			default:
				h.Level = 2
			}
		case "gid":
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				h.GID, h.HasGID = n, true
			}
		}
	}
	return h
}
