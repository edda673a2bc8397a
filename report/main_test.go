package report

import (
	"os"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/runtime/livetest"
)

// TestMain fails the run when the tests left the host changed (livetest.HostGuard): the
// idempotence test runs generated scripts as root, in a private mount namespace. Its child
// (which changes its private /etc on purpose) is not checked.
func TestMain(m *testing.M) {
	if os.Getenv(childDirEnv) != "" {
		os.Exit(m.Run())
	}
	os.Exit(livetest.HostGuard(m).Run())
}
