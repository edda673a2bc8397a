// Command mangen writes the man pages of rootless-doctor, one per command, generated from the
// cobra command tree (github.com/spf13/cobra/doc): `make man`, then `make install` puts them
// in $(PREFIX)/share/man/man1. It is a program of its own so that the rootless-doctor binary
// carries none of cobra/doc and its markdown-to-roff code, nor their start-up cost.
//
// Usage: go run ./cmd/rootless-doctor/mangen DIR
// SOURCE_DATE_EPOCH, when set, dates the pages (reproducible builds); otherwise cobra uses now.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra/doc"

	"github.com/rootless-doctor/rootless-doctor/cmd/rootless-doctor/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mangen DIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "mangen:", err)
		os.Exit(1)
	}
	root := cli.NewCmdRoot(cli.NewFactory())
	// cobra adds `completion` when the command line runs; add it here for its pages.
	root.InitDefaultCompletionCmd()
	root.DisableAutoGenTag = true
	header := &doc.GenManHeader{Title: "ROOTLESS-DOCTOR", Section: "1", Source: "rootless-doctor", Manual: "rootless-doctor manual"}
	if err := doc.GenManTree(root, header, dir); err != nil {
		fmt.Fprintln(os.Stderr, "mangen:", err)
		os.Exit(1)
	}
}
