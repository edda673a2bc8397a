package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrTimeout is wrapped by the error of a command that was still running at its deadline and
// was killed: a probe reports that, not a wrong version or a missing tool.
var ErrTimeout = errors.New("timed out")

// CommandWaitDelay is how long a command's output may stay open once the command has exited
// or been killed. A helper it left in the background can hold its stdout for ever; without a
// delay Wait waits for that (exec.Cmd.WaitDelay, Go 1.20).
const CommandWaitDelay = time.Second

// RunCommand runs argv with a deadline (timeout, or ctx's if sooner), in a process group of
// its own that is killed whole (SIGKILL) at the deadline or when ctx ends, and with
// CommandWaitDelay on its output. With reap, what is left of the group after the command
// exited is killed too: a version query has no business leaving processes behind. Before
// issue 10 a fake iptables that forked `sleep` cost 10 s, gave a wrong verdict and left the
// sleep running. configure sets the command's streams and environment before it starts.
//
// The error is nil, an *exec.ExitError (the command ran and failed), one wrapping ErrTimeout
// and context.DeadlineExceeded, ctx's error when ctx was cancelled, or why it could not start.
// Stdin is /dev/null unless configure sets it. See docs/bounded-inputs.md.
func RunCommand(ctx context.Context, timeout time.Duration, reap bool, argv []string, configure func(*exec.Cmd)) error {
	if len(argv) == 0 {
		return errors.New("run: empty command")
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, argv[0], argv[1:]...)
	if configure != nil {
		configure(cmd)
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = CommandWaitDelay
	err := cmd.Run()
	if cmd.Process != nil && (reap || cctx.Err() != nil) {
		_ = killGroup(cmd)
	}
	switch {
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w after %s: %w", ErrTimeout, timeout, context.DeadlineExceeded)
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, exec.ErrWaitDelay):
		// It exited successfully; something it left behind kept its output open. What it
		// printed is complete.
		return nil
	}
	return err
}

// Piped is a helper process started by StartPiped: the caller writes to Stdin, reads Stdout,
// then calls Wait.
type Piped struct {
	cmd    *exec.Cmd
	Stdin  io.WriteCloser
	Stdout io.ReadCloser
}

// StartPiped starts argv with a pipe to its stdin and one from its stdout, for a helper that
// talks with its caller for as long as it runs (`fix --apply`'s sudo helper, the account's
// __user-apply). ctx's end kills it; configure sets its environment, directory, credentials
// and stderr before it starts. Unlike RunCommand it has no deadline of its own and stays in the
// caller's process group: sudo asks for a password on the terminal, which a process outside
// the foreground group cannot read (it would be stopped with SIGTTIN).
func StartPiped(ctx context.Context, argv []string, configure func(*exec.Cmd)) (*Piped, error) {
	if len(argv) == 0 {
		return nil, errors.New("start: empty command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if configure != nil {
		configure(cmd)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &Piped{cmd: cmd, Stdin: in, Stdout: out}, nil
}

// Wait waits for the process to exit (after its stdout was read to the end).
func (p *Piped) Wait() error { return p.cmd.Wait() }

// killGroup kills the command's process group. The group's id is the command's pid, which
// the kernel does not reuse while the group has a member (ESRCH once it has none).
func killGroup(cmd *exec.Cmd) error {
	if err := unix.Kill(-cmd.Process.Pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return err
	}
	return nil
}

// CappedBuffer keeps the first Max bytes written to it (MaxRead when Max is 0) and drops the
// rest, so that a runaway command cannot eat memory.
type CappedBuffer struct {
	bytes.Buffer
	Max int
}

func (c *CappedBuffer) Write(p []byte) (int, error) {
	max := c.Max
	if max <= 0 {
		max = MaxRead
	}
	if room := max - c.Len(); room > 0 {
		if len(p) > room {
			c.Buffer.Write(p[:room])
		} else {
			c.Buffer.Write(p)
		}
	}
	return len(p), nil
}
