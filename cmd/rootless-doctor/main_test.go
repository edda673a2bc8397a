package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/rootless-doctor/rootless-doctor/cmd/rootless-doctor/cli"
	"github.com/rootless-doctor/rootless-doctor/runtime/daemon"
	"github.com/rootless-doctor/rootless-doctor/runtime/livetest"
	"github.com/rootless-doctor/rootless-doctor/runtime/proof"
	"github.com/rootless-doctor/rootless-doctor/runtime/rootlesskit"
)

// TestMain lets testscript run the real command in-process as `rootless-doctor`, and fails
// the run when the live tests left the host changed (livetest.HostGuard).
func TestMain(m *testing.M) {
	rootlesskit.Dispatch(append(proof.Roles(), daemon.Roles()...)...)
	testscript.Main(livetest.HostGuard(m), map[string]func(){
		"rootless-doctor": func() { os.Exit(cli.Main()) },
	})
}

// TestScripts runs the command-line acceptance scripts in testdata/script: exit codes,
// formats, --root replay, --only/--skip. $FIXTURES is the repository's fixtures/ directory.
func TestScripts(t *testing.T) {
	fixtures, err := filepath.Abs(filepath.Join("..", "..", "fixtures"))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			e.Setenv("FIXTURES", fixtures)
			e.Setenv("NO_COLOR", "1")
			return nil
		},
	})
}
