package parse

import (
	"os"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/runtime/livetest"
)

// TestMain fails the run when the tests left the host changed (livetest.HostGuard): the
// getsubids test bind-mounts files over /etc/subuid in a private mount namespace.
func TestMain(m *testing.M) { os.Exit(livetest.HostGuard(m).Run()) }
