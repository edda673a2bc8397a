package livetest

import (
	"os"
	"testing"
)

// TestMain fails the run when the tests left the host changed (HostGuard): the tests take
// the live-test lock and remove directories as root.
func TestMain(m *testing.M) { os.Exit(HostGuard(m).Run()) }
