// Command rootless-doctor tells whether an account can run rootless containers on a Linux host
// and, if not, exactly what must change. See README.md and `rootless-doctor --help`.
package main

import (
	"os"

	"github.com/rootless-doctor/rootless-doctor/cmd/rootless-doctor/cli"
	"github.com/rootless-doctor/rootless-doctor/runtime/daemon"
	"github.com/rootless-doctor/rootless-doctor/runtime/proof"
	"github.com/rootless-doctor/rootless-doctor/runtime/rootlesskit"
)

func main() {
	rootlesskit.Dispatch(append(proof.Roles(), daemon.Roles()...)...)
	os.Exit(cli.Main())
}
