package cli

import (
	"os"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/internal/hostile"
)

// TestMain lets a test run the command line in a child process (the test binary re-executed
// with RD_CLI_MAIN=1 and the command's arguments), to measure what a run costs or to signal it.
func TestMain(m *testing.M) {
	if os.Getenv("RD_TEST_BLOCKED_RUN") == "1" {
		blockedRun()
		os.Exit(0)
	}
	if os.Getenv("RD_CLI_MAIN") == "1" {
		code := Main()
		hostile.WritePeakRSS()
		os.Exit(code)
	}
	os.Exit(m.Run())
}
