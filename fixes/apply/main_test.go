package apply

import (
	"os"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/runtime/livetest"
)

// TestMain fails the run when the tests left the host changed (livetest.HostGuard): the applier's tests run commands and write files as root.
func TestMain(m *testing.M) { os.Exit(livetest.HostGuard(m).Run()) }
