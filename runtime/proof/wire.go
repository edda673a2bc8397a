package proof

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// The proof runs in several processes (see dispatch.go), so what they learn crosses process
// boundaries as JSON files in the private state dir, never through rootlesskit's log output:
//
//	request.json          the CLI: the network driver asked for, the binary's path
//	config.json           the parent role, for the payload: ports, nonce, the host's userns
//	parent.json           the parent role: chosen driver, rootlesskit's error, host-side facts,
//	                      the port round trip, the cgroup step
//	progress.jsonl        the parent role: one progressEvent per line, as rootlesskit goes
//	                      (the child said hello, the network driver was called, it returned)
//	payload-<run>.jsonl   the payload: one stepReport per line, written as each step ends
//	child-<run>.json      the rootlesskit child: its error, when it failed before the payload
//	stderr.log            everything written to fd 2 by the parent role and its children
//	                      (logrus JSON lines, nsenter/ip/slirp4netns text); parsed, never shown raw
//
// The CLI reads progress.jsonl and payload-0.jsonl while the proof runs (Options.Progress:
// live progress on a terminal, issue 15) and again after it ends: when the proof was killed
// at its time limit, progress.jsonl still says how far rootlesskit got, so the step that hung
// is blamed and the steps before it are kept.

const (
	fileParent   = "parent.json"
	fileLog      = "stderr.log"
	fileProgress = "progress.jsonl"
)

// The events of progress.jsonl.
const (
	evUserNS   = "userns"    // rootlesskit's child said hello from its new namespaces
	evNetStart = "net-start" // the ids are mapped and the child has its capabilities: the network driver is called
	evNetEnd   = "net-end"   // the network driver returned (Err: its error)
)

// progressEvent is one line of progress.jsonl.
type progressEvent struct {
	Run   int    `json:"run"`
	Event string `json:"event"`
	// At is the time since parent.Parent started, for this run.
	At     time.Duration `json:"at_ns"`
	Driver string        `json:"driver,omitempty"`
	Err    string        `json:"err,omitempty"`
	// SubUIDs and SubGIDs are the ranges rootlesskit computed so far (runReport).
	SubUIDs string `json:"subuids,omitempty"`
	SubGIDs string `json:"subgids,omitempty"`
}

// openProgress opens progress.jsonl for the parent role's events (nil when it cannot: the
// events are a help, not the report).
func openProgress(outer string) *os.File {
	f, err := createNew(filepath.Join(outer, fileProgress), os.O_APPEND)
	if err != nil {
		return nil
	}
	return f
}

func payloadFile(run int) string { return fmt.Sprintf("payload-%d.jsonl", run) }
func childFile(run int) string   { return fmt.Sprintf("child-%d.json", run) }

// stepReport is one step's result on the wire. It is finding.Result without the runner's fields.
type stepReport struct {
	ID       string             `json:"id"`
	Status   finding.Status     `json:"status"`
	Summary  string             `json:"summary"`
	Details  []string           `json:"details,omitempty"`
	Evidence []finding.Evidence `json:"evidence,omitempty"`
	Intents  []finding.Intent   `json:"intents,omitempty"`
	Duration time.Duration      `json:"duration_ns"`
}

func (s stepReport) detail(format string, args ...any) stepReport {
	s.Details = append(s.Details, fmt.Sprintf(format, args...))
	return s
}

func (s stepReport) with(source, value string) stepReport {
	s.Evidence = append(s.Evidence, finding.Evidence{Source: source, Value: value})
	return s
}

// explained sets the status and summary of a failed step from an explanation, keeping the
// original error in Details (shown under -v).
func (s stepReport) explained(st finding.Status, x explanation, original string) stepReport {
	s.Status = st
	s.Summary = x.Summary
	if x.Probe != "" {
		s.Summary += " (see " + x.Probe + ")"
		s.Details = append(s.Details, fmt.Sprintf("Explained by the static probe %s: run `rootless-doctor explain %s`.", x.Probe, x.Probe))
	}
	s.Details = append(s.Details, x.Details...)
	if original != "" {
		s.Details = append(s.Details, "Original error: "+original)
	}
	s.Intents = append(s.Intents, x.Intents...)
	return s
}

// wireError is an error as it crosses from the process that saw it to the one that explains
// it: the message plus what errors.Is/As could tell while the chain was still alive.
type wireError struct {
	// Phase is where it happened: one of the phase* constants.
	Phase   string `json:"phase"`
	Message string `json:"message"`
	// Errno is the name of the innermost errno ("EPERM"), when the chain held one.
	Errno string `json:"errno,omitempty"`
	// NotFound is set when a binary was not found (exec.ErrNotFound, or ENOENT on exec).
	NotFound bool `json:"not_found,omitempty"`
	// Exit is the exit status of a command in the chain, or -1.
	Exit int `json:"exit"`
	// Hung: the phase did not finish in time (a network driver stopped at its limit, or a
	// phase the proof's time limit cut short).
	Hung bool `json:"hung,omitempty"`
}

// The phases of a rootlesskit start, in order.
const (
	phaseStart   = "start"   // parent.Parent's own preflight, state dir, lock
	phaseUserNS  = "userns"  // starting the child in new user and mount namespaces
	phaseIDMap   = "idmap"   // newuidmap/newgidmap
	phaseChild   = "child"   // the child after the maps: caps, propagation, sysfs, network inside
	phaseNetwork = "network" // the parent side of the network driver (tap, slirp4netns…)
	phasePort    = "port"    // the port driver, publishing the port
	phasePayload = "payload" // the payload itself exited badly
	phaseTimeout = "timeout"
)

// errnoNames are the errnos the explanations branch on (explain.go): rootlesskit wraps them
// without types of its own (runtime/rootlesskit/rktext.go).
var errnoNames = map[syscall.Errno]string{
	unix.EPERM: "EPERM", unix.EACCES: "EACCES", unix.ENOSPC: "ENOSPC", unix.EINVAL: "EINVAL",
	unix.EUSERS: "EUSERS", unix.ENOENT: "ENOENT", unix.ENODEV: "ENODEV", unix.ENXIO: "ENXIO",
	unix.EBUSY: "EBUSY", unix.EADDRINUSE: "EADDRINUSE", unix.ENOSYS: "ENOSYS", unix.EROFS: "EROFS",
}

// describe turns a live error chain into a wireError.
func describe(phase string, err error) *wireError {
	if err == nil {
		return nil
	}
	w := &wireError{Phase: phase, Message: err.Error(), Exit: -1}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		w.Errno = errnoNames[errno]
		if w.Errno == "" {
			w.Errno = fmt.Sprintf("errno %d", int(errno))
		}
	}
	var pe *fs.PathError
	if errors.Is(err, exec.ErrNotFound) || (errors.As(err, &pe) && pe.Op == "exec" && errors.Is(err, fs.ErrNotExist)) {
		w.NotFound = true
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		w.Exit = ee.ExitCode()
	}
	w.Hung = errors.Is(err, errNetHung)
	return w
}

func errnoName(err error) string {
	if w := describe("", err); w != nil {
		return w.Errno
	}
	return ""
}

// writeJSON writes v to a new file at path, for a reader that runs after the writer ends.
// Like every file of the state dir it is created O_EXCL|O_NOFOLLOW (docs/security.md): a
// name that exists already is an error, never reused or followed.
func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f, err := createNew(path, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// createNew creates the file at path for writing (plus extra open flags), mode 0600; it must
// not exist.
func createNew(path string, extra int) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|extra, 0o600)
}
