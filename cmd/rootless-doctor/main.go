// Command rootless-doctor tells whether an account can run rootless containers on a Linux host
// and, if not, exactly what must change. See README.md and `rootless-doctor --help`.
package main

import (
	"os"

	"github.com/rootless-doctor/rootless-doctor/cmd/rootless-doctor/cli"
	"github.com/rootless-doctor/rootless-doctor/runtime/daemon"
	"github.com/rootless-doctor/rootless-doctor/runtime/proof"
)

func main() {
	proof.Dispatch()
	daemon.Dispatch()
	os.Exit(cli.Main())
}
