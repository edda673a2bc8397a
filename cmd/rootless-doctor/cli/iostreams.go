// Package cli is the command-line interface of rootless-doctor: thin cobra commands in the
// manner of cli/cli (gh): each command is NewCmdX(f, runF) with flag checks in RunE and the
// logic in xRun(opts); the Factory provides the Host, the probes, the clock and the streams, so
// tests swap them. Only Main exits.
package cli

import (
	"bytes"
	"io"
	"os"

	"github.com/charmbracelet/colorprofile"
	"golang.org/x/sys/unix"
)

// IOStreams are the process's streams and what is known about them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// OutProfile is the colour profile for Out: NoTTY when piped or NO_COLOR is set.
	OutProfile colorprofile.Profile
	// InIsTTY tells whether a person could answer a prompt.
	InIsTTY bool
	// Progress is where live progress goes (progress.go): stderr when both stdout and stderr
	// are terminals and TERM is not "dumb"; nil otherwise (piped, redirected, CI logs), so
	// nothing extra is ever written there.
	Progress io.Writer
	// Size returns the terminal's columns and rows of Progress (0, 0: unknown).
	Size func() (cols, rows int)
}

// SystemIO returns the real streams. NO_COLOR with any non-empty value turns colour off
// (https://no-color.org); colorprofile alone only honours values strconv.ParseBool accepts
// (github.com/charmbracelet/colorprofile, env.go), so it is checked here first.
func SystemIO() *IOStreams {
	io := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	io.OutProfile = colorprofile.Detect(os.Stdout, os.Environ())
	if os.Getenv("NO_COLOR") != "" {
		io.OutProfile = colorprofile.NoTTY
	}
	io.InIsTTY = isTerminal(os.Stdin)
	if isTerminal(os.Stdout) && isTerminal(os.Stderr) && os.Getenv("TERM") != "dumb" {
		io.Progress = os.Stderr
		io.Size = func() (int, int) { return termSize(os.Stderr) }
	}
	return io
}

func termSize(f *os.File) (cols, rows int) {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0, 0
	}
	return int(ws.Col), int(ws.Row)
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// TestIO returns buffer streams (plain output, no TTY) for tests.
func TestIO() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut, OutProfile: colorprofile.NoTTY}, in, out, errOut
}
