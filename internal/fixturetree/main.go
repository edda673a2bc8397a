// Command fixturetree writes the recorded host of one failure-mode fixture
// (fixtures/failures/ID: a healthy base tree with one condition changed, docs/failures/README.md)
// into a directory, so that a developer can look at it with `rootless-doctor check --root DIR`.
//
//	go run ./internal/fixturetree ID DIR    (make failure-tree ID=… OUT=…)
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/rootless-doctor/rootless-doctor/fixtures"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: fixturetree ID DIR   (run from the repository root)")
		os.Exit(2)
	}
	id, out := os.Args[1], os.Args[2]
	if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 {
		fmt.Fprintf(os.Stderr, "fixturetree: %s is not empty\n", out)
		os.Exit(2)
	}
	dir := filepath.Join("fixtures", fixtures.FailuresDir, filepath.Base(id))
	if err := fixtures.Compose("fixtures", dir, out); err != nil {
		fmt.Fprintf(os.Stderr, "fixturetree: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("rootless-doctor check --root %s\n", out)
}
