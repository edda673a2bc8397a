package proof

import (
	"io"

	"github.com/rootless-containers/rootlesskit/v3/pkg/network"
	"github.com/rootless-containers/rootlesskit/v3/pkg/parent"
)

// The pieces of the proof's rootlesskit embedding that the daemon (runtime/daemon) reuses, so
// that the engine runs with exactly the drivers and id source the proof has just tested.

// NewNetDriver builds the parent side of the network driver named as --net names it (auto
// picks slirp4netns, then pasta, then the in-process gvisor-tap-vsock driver). It returns the
// driver chosen and, for auto, why the others were passed over. "none" and unknown names give
// a nil driver only for "host" (internal); the daemon never asks for those.
func NewNetDriver(name string) (chosen string, d network.ParentDriver, notes []string, err error) {
	return newNetDriver(name)
}

// ChildNetDriver is the child side of the driver NewNetDriver chose (nil for none/host).
func ChildNetDriver(chosen string) network.ChildDriver { return childNetDriver(chosen) }

// SubidSource is the subordinate id source the proof uses (static unless nsswitch.conf names
// a subid source).
func SubidSource() parent.SubidSource { return subidSource() }

// LogWriter turns a driver's output into rootlesskit debug log lines labelled with label.
func LogWriter(label string) io.Writer { return logWriter(label) }
