package vm

import (
	"os"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/runtime/livetest"
)

// TestMain fails the run when the tests left the host changed (livetest.HostGuard). The lab
// changes nothing on the host but its image cache and temporary files: everything it stages
// happens inside the guests.
func TestMain(m *testing.M) { os.Exit(livetest.HostGuard(m).Run()) }
