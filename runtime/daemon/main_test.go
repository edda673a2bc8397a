package daemon

import (
	"os"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/runtime/livetest"
)

// TestMain fails the run when the tests left the host changed (livetest.HostGuard): the tests run the daemon's state-dir checks as root.
func TestMain(m *testing.M) { os.Exit(livetest.HostGuard(m).Run()) }
