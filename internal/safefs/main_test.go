// An external test package: runtime/livetest imports safefs.
package safefs_test

import (
	"os"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/runtime/livetest"
)

// TestMain fails the run when the tests left the host changed (livetest.HostGuard): the
// tests create and remove trees as root.
func TestMain(m *testing.M) { os.Exit(livetest.HostGuard(m).Run()) }
