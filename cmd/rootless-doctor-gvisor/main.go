// Command rootless-doctor-gvisor is the helper of rootless-doctor that runs the
// gvisor-tap-vsock network (`rootless-doctor prove --net gvisor`, `daemon --net gvisor`, and
// auto's last resort when neither slirp4netns nor pasta is usable). It plays the proof's and
// the daemon's roles exactly as rootless-doctor does, with the driver linked in; rootless-doctor
// runs it from its own directory (runtime/rootlesskit.GvisorHelper) and links none of the
// driver's packages, whose initialisation cost every command ~4.5 ms (issue 16). `make install`
// installs both binaries; run rootless-doctor, not this.
package main

import (
	"fmt"
	"os"

	"github.com/rootless-doctor/rootless-doctor/runtime/daemon"
	"github.com/rootless-doctor/rootless-doctor/runtime/proof"
	"github.com/rootless-doctor/rootless-doctor/runtime/rootlesskit"
	"github.com/rootless-doctor/rootless-doctor/runtime/rootlesskit/gvisor"
)

func main() {
	gvisor.Link()
	rootlesskit.Dispatch(append(proof.Roles(), daemon.Roles()...)...)
	fmt.Fprintln(os.Stderr, "rootless-doctor-gvisor runs the gvisor-tap-vsock network for rootless-doctor (prove/daemon --net gvisor); run rootless-doctor instead")
	os.Exit(2)
}
