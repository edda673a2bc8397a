// Package gvisor links rootlesskit's gvisor-tap-vsock network driver (an in-process user-mode
// network, gVisor's TCP/IP stack) into the binaries that run it: the helper
// cmd/rootless-doctor-gvisor and the tests of the runtime. rootless-doctor does not import it,
// so that no command pays for the driver's package initialisation (issue 16); its roles hand
// themselves to the helper when they need the driver (rootlesskit.ExecHelper).
package gvisor

import (
	"net"

	"github.com/rootless-containers/rootlesskit/v3/pkg/network"
	"github.com/rootless-containers/rootlesskit/v3/pkg/network/gvisortapvsock"

	"github.com/rootless-doctor/rootless-doctor/runtime/rootlesskit"
)

// Link makes the driver available to rootlesskit.NewNetDriver and ChildNetDriver. main() (or
// TestMain) calls it before rootlesskit.Dispatch.
func Link() {
	rootlesskit.LinkGvisor(func() (network.ParentDriver, error) {
		// The driver dereferences ipnet: pass rootlesskit's default 10.0.2.0/24 (its --cidr
		// flag's default, cmd/rootlesskit/main.go).
		_, n, _ := net.ParseCIDR("10.0.2.0/24")
		return gvisortapvsock.NewParentDriver(rootlesskit.LogWriter("network/gvisor-tap-vsock"), 0, n, "", true, false)
	}, gvisortapvsock.NewChildDriver)
}
