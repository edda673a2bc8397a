// Package checks holds the probes of rootless-doctor, their registry and their runner.
//
// A probe is small data plus a pure function: a stable id such as
// "idmap.subuid", static metadata, and Run(ctx, env) Result. Probes read the machine only
// through env.Host, never print, and never build shell text: what must change travels as fix
// intents (package finding). The registry (registry.go) is one explicit ordered list;
// the runner (runner.go) applies the timeout, panic and selection policies.
package checks

import (
	"context"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

// Probe is one check. The zero value is not useful; probes are declared as package-level
// values in files named after their id (identity.user → identity_user.go).
type Probe struct {
	// ID is stable: CI gates, --only/--skip and other tools depend on it (docs/probes.md).
	ID string
	// Title is a short noun phrase for reports.
	Title string
	// Fails says, in one line, when it fails or warns: the last column of the probe tables of
	// README.md and docs/probes.md, which are generated from the registry.
	Fails string
	// Why says why it matters for rootless containers, for `explain`.
	Why string
	// Reads lists what it reads on the host (files, commands, variables), for `explain`.
	Reads []string
	// Fixes lists the kinds of fix intents it may ask for.
	Fixes []finding.Kind
	// Starts says it may start a process (a helper's --version that no package database or
	// cache answers; storage.tmpdir's df on a snapshot from before Dec 2026). A live run
	// launches these probes first, so that their processes run while the others read files
	// (issue 16: df, near the end of the registry, was the end of a static check's critical
	// path before statfs replaced it). Results keep registry order.
	Starts bool
	// Run decides. It must honour ctx for commands it runs, must not print, and reads the
	// machine only through env.Host.
	Run func(ctx context.Context, env *facts.Env) finding.Result
}

// Group is the area of the probe: the id up to the first dot ("idmap" for "idmap.subuid").
func (p Probe) Group() string {
	g, _, _ := strings.Cut(p.ID, ".")
	return g
}

// GroupTitles names the areas in reports, in report order.
var GroupTitles = []struct{ Group, Title string }{
	{"identity", "Identity"},
	{"process", "Process context"},
	{"idmap", "Subordinate ids"},
	{"kernel", "Kernel"},
	{"virt", "Virtualisation"},
	{"userns", "User namespaces"},
	{"cgroup", "Cgroups"},
	{"session", "Login session"},
	{"limits", "Limits"},
	{"net", "Network"},
	{"storage", "Storage"},
	{"conflict", "Conflicts"},
	{"leftover", "Leftovers"},
	{"mount", "Mounts"},
	{"lsm", "Security modules"},
	{"runtime", "Live proof"},
	{"engine", "Engines"},
}

// GroupTitle returns the report title of a group, or the group itself.
func GroupTitle(group string) string {
	for _, g := range GroupTitles {
		if g.Group == group {
			return g.Title
		}
	}
	return group
}
