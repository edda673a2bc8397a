// Package report is the report model of one run (docs/cli.md) and every renderer: reports
// as text, JSON, JSON lines, JUnit, Prometheus or markdown, for one host or a fleet, and fix
// plans as a script, text, JSON or an Ansible playbook (plan.go, plan_ansible.go). Only
// renderers write (docs/architecture.md): they take an io.Writer and never decide anything
// about the host.
package report

import (
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/charmbracelet/colorprofile"

	"github.com/rootless-doctor/rootless-doctor/checks"
	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixes"
)

// Schema names the JSON schema; consumers check it. Extend the schema, never rename fields.
const Schema = "rootless-doctor/v1"

// Report is one run.
type Report struct {
	// Tool is the program that made the report (the CLI fills it from the build information).
	Tool    Tool
	Host    HostInfo
	Results []finding.Result
	Summary finding.Summary
	// FailOn is the lowest status that fails the run (finding.Fail by default, or finding.Warn).
	FailOn finding.Status
	// Notes are one-line remarks about the run itself ("static probes only: …").
	Notes []string
	// Plan is the fix plan of the findings (nil when the planner refused them).
	Plan *fixes.Plan
	// Gate, when set, are the only result ids that decide OK and the exit code
	// (check --engine: the engines' probes and the live steps they need).
	Gate []string
}

// Tool names the program and build that made a report: JSON "tool", the JUnit properties
// tool.*, the rootless_doctor_build_info metric (docs/cli.md). An empty Version leaves it out
// of JUnit and Prometheus.
type Tool struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Go       string `json:"go,omitempty"`
}

// HostInfo identifies the host and account.
type HostInfo struct {
	Distro DistroInfo `json:"distro"`
	Kernel string     `json:"kernel"`
	User   UserInfo   `json:"user"`
}

// DistroInfo is the distro part of HostInfo.
type DistroInfo struct {
	ID         string `json:"id"`
	VersionID  string `json:"version_id"`
	PrettyName string `json:"pretty_name"`
}

// UserInfo is the account part of HostInfo.
type UserInfo struct {
	Name string `json:"name"`
	UID  int    `json:"uid"`
	Home string `json:"home"`
}

// New builds a report from a run.
func New(env *facts.Env, results []finding.Result, failOn finding.Status, notes ...string) *Report {
	r := &Report{
		Host: HostInfo{
			Distro: DistroInfo{ID: env.Distro.ID, VersionID: env.Distro.VersionID, PrettyName: env.Distro.PrettyName},
			Kernel: env.Host.KernelRelease(),
		},
		Results: results,
		Summary: finding.Summarize(results),
		FailOn:  failOn,
		Notes:   notes,
	}
	if env.UserErr == nil {
		r.Host.User = UserInfo{Name: env.User.Name, UID: env.User.UID, Home: env.User.Home}
	} else {
		r.Host.User = UserInfo{Name: env.Requested, UID: -1}
	}
	if r.FailOn == "" {
		r.FailOn = finding.Fail
	}
	return r
}

// OK reports whether nothing failed (or, with FailOn warn, nothing warned either).
func (r *Report) OK() bool {
	for _, res := range r.Results {
		if r.Gate != nil && !slices.Contains(r.Gate, res.ID) {
			continue
		}
		if r.Gate != nil && res.Engine != nil && !res.Engine.Installed {
			return false // asked about an engine that is not installed: it is not ready
		}
		if r.failsRun(res) {
			return false
		}
	}
	return true
}

// ExitCode is the process exit code of check and prove: 0 ok, 1 a probe failed (or warned,
// with --fail-on warn). Exit code 2 (usage, bad input) is decided before there is a report.
func (r *Report) ExitCode() int {
	if r.OK() {
		return 0
	}
	return 1
}

// Options tune rendering.
type Options struct {
	// Verbose shows details, evidence and fix hints under each result (text, markdown).
	Verbose bool
	// Timings shows each result's duration in text (prove always; check with -v): the
	// README promises the live proof "step by step, with timings".
	Timings bool
	// Profile is the colour profile of the output: colorprofile.NoTTY strips all styling
	// (pipes, golden files), ASCII keeps bold but no colour (NO_COLOR), ANSI… colour.
	Profile colorprofile.Profile
}

// Renderer writes a report in one format.
type Renderer func(w io.Writer, r *Report, opt Options) error

// renderers holds every format of --output for check and prove.
var renderers = map[string]Renderer{
	"json":       renderJSON,
	"jsonl":      renderJSONL,
	"junit":      renderJUnit,
	"markdown":   renderMarkdown,
	"prometheus": renderPrometheus,
	"text":       renderText,
}

// Formats lists the names --output accepts, sorted.
func Formats() []string {
	names := make([]string, 0, len(renderers))
	for n := range renderers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// HasFormat reports whether name is a known format.
func HasFormat(name string) bool { return slices.Contains(Formats(), name) }

// Render writes r in the named format.
func Render(format string, w io.Writer, r *Report, opt Options) error {
	fn, ok := renderers[format]
	if !ok {
		return fmt.Errorf("unknown output format %q (want one of %v)", format, Formats())
	}
	return fn(w, r, opt)
}

// Grouped returns the results grouped by area, in GroupTitles order, keeping registry order
// inside a group. Unknown groups come last in order of appearance.
func (r *Report) Grouped() []Group {
	var groups []Group
	idx := map[string]int{}
	for _, g := range checks.GroupTitles {
		idx[g.Group] = len(groups)
		groups = append(groups, Group{Name: g.Group, Title: g.Title})
	}
	for _, res := range r.Results {
		g, _, _ := cutDot(res.ID)
		i, ok := idx[g]
		if !ok {
			idx[g] = len(groups)
			i = len(groups)
			groups = append(groups, Group{Name: g, Title: checks.GroupTitle(g)})
		}
		groups[i].Results = append(groups[i].Results, res)
	}
	return slices.DeleteFunc(groups, func(g Group) bool { return len(g.Results) == 0 })
}

// Group is one area of a report.
type Group struct {
	Name, Title string
	Results     []finding.Result
}

func cutDot(id string) (string, string, bool) {
	for i := 0; i < len(id); i++ {
		if id[i] == '.' {
			return id[:i], id[i+1:], true
		}
	}
	return id, "", false
}
