package finding

import (
	"fmt"
	"time"
)

// Status is the outcome of a probe. The values are stable: they appear in JSON.
type Status string

// The statuses, from best to worst (Skip sorts apart: the probe did not apply).
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Valid reports whether s is one of the four statuses.
func (s Status) Valid() bool {
	switch s {
	case Pass, Warn, Fail, Skip:
		return true
	}
	return false
}

// Severity orders statuses for exit codes and summaries: skip 0, pass 1, warn 2, fail 3.
func (s Status) Severity() int {
	switch s {
	case Pass:
		return 1
	case Warn:
		return 2
	case Fail:
		return 3
	}
	return 0
}

// Evidence is one fact a probe read: where from, and what it said.
type Evidence struct {
	Source string `json:"source"`
	Value  string `json:"value"`
}

// Result is what a probe found. Probes fill Status, Summary, Details, Evidence and Intents;
// the runner fills ID, Title and Duration.
type Result struct {
	ID     string
	Title  string
	Status Status
	// Summary is one line, no trailing period.
	Summary string
	// Details are further lines shown under -v: why, what else was seen, the alternative fix.
	Details  []string
	Evidence []Evidence
	// Intents are the fixes this result asks for (intent.go).
	Intents  []Intent
	Duration time.Duration
	// Err is set when the probe could not decide (unreadable file, command that hung). The
	// runner turns it into a result through one policy (see undecided) and keeps it here so
	// -v can show it.
	Err error
	// Engine is set by the engine.* probes: the engine's verdict as data.
	Engine *Engine
	// Unselected marks a skip that --only/--skip asked for (not a probe that did not apply):
	// machine formats keep it so every id is present; the text report leaves it out.
	Unselected bool
	// Ignored marks a result waived with --ignore: shown with its status, but it fails no run
	// (the exit code, JSON "ok", JUnit, the ok gauges) and asks for no fix.
	Ignored bool
}

// Passf is a passing result.
func Passf(format string, args ...any) Result {
	return Result{Status: Pass, Summary: fmt.Sprintf(format, args...)}
}

// Warnf is a warning: rootless containers work, with a limitation.
func Warnf(format string, args ...any) Result {
	return Result{Status: Warn, Summary: fmt.Sprintf(format, args...)}
}

// Failf is a failure: rootless containers will not work until it is fixed.
func Failf(format string, args ...any) Result {
	return Result{Status: Fail, Summary: fmt.Sprintf(format, args...)}
}

// Skipf is a probe that does not apply here; the summary says why.
func Skipf(format string, args ...any) Result {
	return Result{Status: Skip, Summary: fmt.Sprintf(format, args...)}
}

// Undecided is a probe that could not tell. The runner's policy decides its status.
func Undecided(err error, format string, args ...any) Result {
	return Result{Summary: fmt.Sprintf(format, args...), Err: err}
}

// Detail adds a line shown under -v.
func (r Result) Detail(format string, args ...any) Result {
	r.Details = append(r.Details, fmt.Sprintf(format, args...))
	return r
}

// With adds evidence.
func (r Result) With(source, value string) Result {
	r.Evidence = append(r.Evidence, Evidence{Source: source, Value: value})
	return r
}

// Fix adds fix intents.
func (r Result) Fix(in ...Intent) Result {
	r.Intents = append(r.Intents, in...)
	return r
}

// WithStatus sets the status and summary of a result that already carries evidence.
func (r Result) WithStatus(s Status, format string, args ...any) Result {
	r.Status = s
	r.Summary = fmt.Sprintf(format, args...)
	return r
}

// Summary counts results by status.
type Summary struct {
	Pass int `json:"pass"`
	Warn int `json:"warn"`
	Fail int `json:"fail"`
	Skip int `json:"skip"`
	// Ignored counts the results waived with --ignore (each also counted by its status).
	Ignored int `json:"ignored,omitempty"`
}

// Summarize counts the results.
func Summarize(results []Result) Summary {
	var s Summary
	for _, r := range results {
		switch r.Status {
		case Pass:
			s.Pass++
		case Warn:
			s.Warn++
		case Fail:
			s.Fail++
		default:
			s.Skip++
		}
		if r.Ignored {
			s.Ignored++
		}
	}
	return s
}

// Engine is what an engine.* probe found about one engine: the machine-readable part of
// its result (docs/cli.md, "engine").
type Engine struct {
	// Name is "docker", "podman", "nerdctl" or "buildkit".
	Name string `json:"name"`
	// Installed is false when the engine is not installed (the probe skips).
	Installed bool `json:"installed"`
	// Version is the engine's version as printed or packaged, "" when unknown.
	Version string `json:"version"`
	// Runtime is the OCI runtime it will use ("crun 1.8.1"), Network its rootless network
	// ("slirp4netns", "pasta"), Storage its storage driver ("vfs", "overlay").
	Runtime string `json:"runtime"`
	Network string `json:"network"`
	Storage string `json:"storage"`
	// Ready is whether it will run containers for the account on this host.
	Ready bool `json:"ready"`
	// Reasons say why it is not ready, the first first (empty when ready).
	Reasons []string `json:"reasons"`
}
