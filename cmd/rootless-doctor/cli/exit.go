package cli

import (
	"errors"
	"fmt"
)

// Exit codes of check, prove and fix --apply (docs/cli.md).
const (
	ExitOK       = 0 // nothing failed (with --fail-on warn: nothing warned either)
	ExitFindings = 1 // at least one probe failed (or warned, with --fail-on warn)
	ExitError    = 2 // usage error, bad input, or the tool itself could not run
)

// ExitError carries an exit code out of a command. Err, when set, is printed on stderr.
type exitError struct {
	Code int
	Err  error
}

func (e *exitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *exitError) Unwrap() error { return e.Err }

// findings is the silent exit 1 of a report that failed: the report already said why.
func findings() error { return &exitError{Code: ExitFindings} }

// usageErr is an exit-2 error about the command line or the input.
func usageErr(format string, args ...any) error {
	return &exitError{Code: ExitError, Err: fmt.Errorf(format, args...)}
}

// codeOf maps an error returned by a command to an exit code: our exitError carries one;
// every other error (cobra's flag errors, I/O errors) is the tool failing to run: 2.
func codeOf(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitError
}
