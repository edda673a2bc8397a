package rootlesskit

import (
	"strings"

	"github.com/rootless-containers/rootlesskit/v3/pkg/common"
)

// Every piece of rootlesskit's log or error text that this module looks for is here, and only
// here. rootlesskit has no typed errors for these (the phase of a failed start is in the
// prefix of parent.Parent's message; the subordinate ranges and the handshake are in debug
// lines), so the proof and the daemon read text. Each Text names the string literal in
// rootlesskit's source that prints it; TestTextsInRootlesskitSource finds every one in the
// rootlesskit module that go.mod requires, so a bump that rewords a message fails that test
// rather than a user's proof.

// Text is a piece of rootlesskit's output: Match is what the code looks for (a prefix or a
// substring of a message), Source the text of the Go source in rootlesskit that prints it
// (found verbatim by the test; it contains Match, with any case folding Match needs).
type Text struct {
	Match  string
	Source string
}

// Prefix reports whether s starts with the text.
func (t Text) Prefix(s string) bool { return strings.HasPrefix(s, t.Match) }

// In reports whether s contains the text.
func (t Text) In(s string) bool { return strings.Contains(s, t.Match) }

// The prefixes of parent.Parent's errors (pkg/parent/parent.go), which say which phase of a
// start failed.
var (
	ParentStartChild = Text{"failed to start the child", `"failed to start the child: %w"`}
	ParentIDMap      = Text{"failed to setup UID/GID map", `"failed to setup UID/GID map: %w"`}
	ParentNetwork    = Text{"failed to setup network", `"failed to setup network %+v: %w"`}
	ParentExposePort = Text{"failed to expose port", `"failed to expose port %v: %w"`}
	ParentChildExit  = Text{"child exited", `"child exited: %w"`}
	// A failed write of the first handshake message names it (the child is gone).
	ParentHello = Text{"ParentHello", "ParentHello: &messages.ParentHello{}"}
)

// The errors of child.Child (pkg/child/child.go) after the id maps.
var (
	// The target command (the proof's payload, the daemon's engine) exited badly.
	ChildCommandExited = Text{"command ", `"command %v exited: %w"`}
	ChildGainCaps      = Text{"failed to gain the caps", `"failed to gain the caps inside the user namespace: %w"`}
	ChildShareMount    = Text{"failed to share mount point", `"failed to share mount point: /: %w"`}
	ChildMount         = Text{"failed to mount", `"failed to mount tmpfs on %s: %w"`}
	ChildCopyUp        = Text{"copy-up", `"copy-up driver is not specified"`}
	ChildExecuting     = Text{"executing", `"executing %v: %w"`}
	ChildResolvConf    = Text{"/etc/resolv.conf", `"failed to create bind mount /etc/resolv.conf for %s: %w"`}
	ChildHosts         = Text{"/etc/hosts", `"failed to create bind mount /etc/hosts for %s: %w"`}
	// The network drivers' child sides (pkg/network/*) set up the tap device and, for
	// gvisor-tap-vsock, a socket.
	ChildSysfs  = Text{"sysfs", `"failed to mount sysfs: %v"`}
	ChildTap    = Text{"tap", `"setting up tap %s: %w"`}
	ChildSocket = Text{"socket", `"setting up socket: %w"`}
)

// The errors of the subordinate id sources and the network drivers (pkg/parent/idtools,
// pkg/parent/dynidtools, pkg/network/*), matched in lower case.
var (
	NoSubuidRanges       = Text{"no subuid ranges found", `"no subuid ranges found for user %d (%q)"`}
	NoSubgidRanges       = Text{"no subgid ranges found", `"no subgid ranges found for user %d (%q)"`}
	DriverNotInstalled   = Text{"is not installed", `binary %q is not installed: %w"`}
	Slirp4netnsOlderThan = Text{"older than", `"slirp4netns seems older than v0.4.0"`}
)

// The debug lines the proof reads (pkg/parent/parent.go, pkg/parent/idtools): the ranges
// rootlesskit computed for the maps ("subuid ranges=[{100000 65536}]"), which come right after
// the child said hello.
var (
	SubidSourceLine = Text{"subid-source:", `"subid-source:dynamic: failed to get subuids by the UID %d"`}
	SubuidRanges    = Text{"subuid ranges=", `"subuid ranges=%v"`}
	SubgidRanges    = Text{"subgid ranges=", `"subgid ranges=%v"`}
)

// Chatter are rootlesskit's debug lines about its own handshake (pkg/messages, pkg/child,
// pkg/parent/dynidtools): the proof leaves them out of the log it shows.
var Chatter = []Text{
	{"Sending ", `"Sending %+v"`},
	{"Received ", `"Received %+v"`},
	{"Capabilities:", `"Capabilities: %+v"`},
	{"pipeFD=", `"pipeFD=%d, pipe2FD=%d"`},
	{"_ROOTLESSKIT_REEXEC_COUNT", `"_ROOTLESSKIT_REEXEC_COUNT_%d_%d"`},
	// getsubids answers "Error fetching ranges" for every account served by /etc/subuid
	// alone (rootlesskit then falls back to the file): noise.
	{"getsubids", `getsubidsExeName := "getsubids"`},
	SubidSourceLine,
}

// Benign are rootlesskit warnings that say nothing about the host for the proof: its payload
// needs no DNS, so /etc is deliberately not copied up.
var Benign = []Text{
	{"Mounting /etc/resolv.conf without copying-up /etc", `"Mounting /etc/resolv.conf without copying-up /etc. "`},
}

// Texts lists every Text above, for the test.
func Texts() []Text {
	out := []Text{
		ParentStartChild, ParentIDMap, ParentNetwork, ParentExposePort, ParentChildExit, ParentHello,
		ChildCommandExited, ChildGainCaps, ChildShareMount, ChildMount, ChildCopyUp, ChildExecuting,
		ChildResolvConf, ChildHosts, ChildSysfs, ChildTap, ChildSocket,
		NoSubuidRanges, NoSubgidRanges, DriverNotInstalled, Slirp4netnsOlderThan,
		SubuidRanges, SubgidRanges,
	}
	out = append(out, Chatter...)
	return append(out, Benign...)
}

// ExitStatus is the exit status of the target command when child.Child failed because the
// command itself exited badly (its status is then the child's, and the parent's).
func ExitStatus(err error) (int, bool) {
	if err == nil || !ChildCommandExited.Prefix(err.Error()) {
		return 0, false
	}
	return common.GetExecExitStatus(err)
}
