// Package fixes turns the fix intents of one run into a plan: an ordered, deduplicated,
// distro-aware list of idempotent steps (issue 3), which package report renders as a
// `sudo sh -eux` script, numbered text, JSON or an Ansible playbook.
//
// Build is pure: it reads the machine only through the facts of the run it is given
// (facts.Env: the existing /etc/subuid, /etc/login.defs, the sysctl.d boot configuration the
// probes read, …) and never runs anything. The same input gives the same plan. What the
// planner knows about each kind of intent is one entry of the table in kinds.go, one file per
// kind (kind_<name>.go).
//
// Every step is idempotent: files are replaced only when their content differs, usermod and
// appends are guarded by grep, packages are installed only when missing, and the commands
// that always run (sysctl -p, modprobe, chmod, apparmor_parser -r) set the same state again.
// Running the script twice changes nothing the second time (report/plan_idempotence_test.go).
package fixes

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// Files the plan owns. They are ours alone, so the planner may rewrite them whole (keeping
// the keys an earlier run put there).
const (
	SysctlFile          = "/etc/sysctl.d/60-rootless-doctor.conf"
	OptionalSysctlFile  = "/etc/sysctl.d/61-rootless-doctor-optional.conf"
	ModulesFile         = "/etc/modules-load.d/rootless-doctor.conf"
	OptionalModulesFile = "/etc/modules-load.d/rootless-doctor-optional.conf"
	DelegateFile        = "/etc/systemd/system/user@.service.d/60-rootless-doctor-delegate.conf"
	AppArmorDir         = "/etc/apparmor.d"
	UdevRulesDir        = "/etc/udev/rules.d"
)

// Request is one intent and the probe that asked for it.
type Request struct {
	ProbeID string
	Intent  finding.Intent
}

// Input is everything Build needs: the intents of one run, and the facts of the run (the
// host to read existing files from, the detected distribution, the sysctl.d boot
// configuration the probes read). A nil Env, or one without a Host, reads as an empty host.
type Input struct {
	Requests []Request
	Env      *facts.Env
}

// Plan is an ordered list of steps. Optional steps are in Steps too, with Optional set,
// after every required step; renderers show them apart and never run them by default.
type Plan struct {
	Steps []Step `json:"steps"`

	// account is the account the plan was built for ("" when unknown): the Ansible form
	// makes it the variable rootless_doctor_user.
	account string
}

// Account is the account the plan was built for, "" when unknown.
func (p Plan) Account() string { return p.account }

// Step is one change. Files are written first (only when their content differs), then
// Commands run in order, unless Unless succeeds. Manual steps have no commands: only a
// person can do them, so renderers print them and never run them.
type Step struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Commands []string `json:"commands"`
	Files    []File   `json:"files,omitempty"`
	Relogin  bool     `json:"relogin"`
	Optional bool     `json:"optional,omitempty"`
	// Fixes are the probe ids this step fixes.
	Fixes []string `json:"fixes"`
	// Manual: only a person can do it; printed as a comment, never run.
	Manual bool `json:"manual,omitempty"`
	// Intents are the ids of the intents merged into this step (what results list in their
	// "fixes" field), so a report can point from a result to its step.
	Intents []string `json:"intents,omitempty"`
	// Why says why, one line each: the reasons the probes gave, and notes of the planner.
	Why []string `json:"why,omitempty"`
	// As is the account a user-scope step runs as (its files are in that account's home);
	// "" for a step that runs as root. The sudo helper never applies such a step, and root
	// never writes its files itself (docs/security.md, "User-scope steps").
	As string `json:"as,omitempty"`
	// Unless is a shell condition that succeeds when the step is already done; Commands are
	// skipped then. Empty: the commands always run (they are idempotent by themselves).
	Unless string `json:"unless,omitempty"`

	// reloginFixes are the probes whose fix needs a new session (a subset of Fixes).
	reloginFixes []string
	// tasks are the Ansible tasks of the step (see ansible.go); a plan decoded from JSON
	// has none, and WritePlanAnsible falls back to files and commands.
	tasks []Task
	// handlers are the Ansible handlers its tasks notify (reloads after a file changed).
	handlers []Task
}

// File is a file a step writes, with its full content.
type File struct {
	Path    string `json:"path"`
	Mode    string `json:"mode"`
	Content string `json:"content"`
}

// Empty reports whether the plan has no step at all, required or optional.
func (p Plan) Empty() bool { return len(p.Steps) == 0 }

// Numbers gives each step its number: 1, 2, … for required steps, O1, O2, … for optional.
func (p Plan) Numbers() []string {
	out := make([]string, len(p.Steps))
	req, opt := 0, 0
	for i, s := range p.Steps {
		if s.Optional {
			opt++
			out[i] = "O" + strconv.Itoa(opt)
		} else {
			req++
			out[i] = strconv.Itoa(req)
		}
	}
	return out
}

// Required returns the steps that are not optional, in order.
func (p Plan) Required() []Step {
	return slices.DeleteFunc(slices.Clone(p.Steps), func(s Step) bool { return s.Optional })
}

// OptionalSteps returns the optional steps, in order.
func (p Plan) OptionalSteps() []Step {
	return slices.DeleteFunc(slices.Clone(p.Steps), func(s Step) bool { return !s.Optional })
}

// ErrInvalid is returned (wrapped) by Build for an intent that makes no sense (an unknown
// kind, a remove range that does not parse).
var ErrInvalid = errors.New("invalid intent")

// Build turns requests into a plan. It fails only on intents that are invalid or cannot be
// quoted safely; a host problem (no free subordinate range, an unreadable /etc/subuid)
// becomes a manual step that says so.
func Build(in Input) (Plan, error) {
	reqs := slices.Clone(in.Requests)
	for _, r := range reqs {
		if err := validate(r); err != nil {
			return Plan{}, fmt.Errorf("probe %s, intent %s: %w", r.ProbeID, IntentID(r.Intent), err)
		}
	}
	// An optional intent that some probe also requires is simply required; where values
	// conflict, what was asked for as required wins (it sorts first).
	required := map[string]bool{}
	for _, r := range reqs {
		if !r.Intent.Optional {
			required[mergeKey(r.Intent)] = true
		}
	}
	type item struct {
		Request
		promoted bool
	}
	items := make([]item, len(reqs))
	for i, r := range reqs {
		items[i].Request = r
		if r.Intent.Optional && required[mergeKey(r.Intent)] {
			items[i].Intent.Optional, items[i].promoted = false, true
		}
	}
	// Sort so that the plan does not depend on the order probes ran in: by kind (the plan
	// order), then intent id, then required before promoted, then probe id. Stable, so one
	// probe's repeated intents keep their order.
	slices.SortStableFunc(items, func(a, b item) int {
		if d := order(a.Intent.Kind) - order(b.Intent.Kind); d != 0 {
			return d
		}
		if c := strings.Compare(mergeKey(a.Intent), mergeKey(b.Intent)); c != 0 {
			return c
		}
		if a.promoted != b.promoted {
			if a.promoted {
				return 1
			}
			return -1
		}
		return strings.Compare(a.ProbeID, b.ProbeID)
	})
	for i := range items {
		reqs[i] = items[i].Request
	}
	var req, opt []Request
	for _, r := range reqs {
		if r.Intent.Optional {
			opt = append(opt, r)
		} else {
			req = append(req, r)
		}
	}
	env := in.Env
	if env == nil || env.Host == nil {
		var d distro.Info
		if env != nil {
			d = env.Distro
		}
		env = &facts.Env{Host: host.NewMemory().Host(), Distro: d}
	}
	b := &builder{distro: env.Distro, host: env.Host, env: env}
	steps := b.group(req, false)
	optSteps := b.group(opt, true)
	if rl := b.relogin(steps); rl != nil {
		steps = append(steps, *rl)
	}
	steps = append(steps, optSteps...)
	for i := range steps {
		if steps[i].Commands == nil {
			steps[i].Commands = []string{}
		}
		if steps[i].Fixes == nil {
			steps[i].Fixes = []string{}
		}
	}
	if steps == nil {
		steps = []Step{}
	}
	return Plan{Steps: steps, account: b.account()}, nil
}

// account is the checked account's name, "" when unknown.
func (b *builder) account() string {
	if b.env == nil || b.env.UserErr != nil || checkUser(b.env.User.Name) != nil {
		return ""
	}
	return b.env.User.Name
}

// AccountVar is the playbook variable that holds the account a fix is for: the plan's own
// account is written as it, so one playbook serves every host of a group, each with its
// account (inventory host_vars, or -e rootless_doctor_user=NAME).
const AccountVar = "rootless_doctor_account"

// userRef is how a task names user u: the variable for the plan's account, else the name.
func (b *builder) userRef(u string) string {
	if u != "" && u == b.account() {
		return "{{ " + AccountVar + " }}"
	}
	return u
}

// builder holds what the step builders share.
type builder struct {
	distro distro.Info
	host   host.Host
	env    *facts.Env
	// alloc is created on first use (reading the id files only when subids are asked for).
	alloc *allocator
	// reloginReqs are the AskRelogin requests, gathered for the last step.
	reloginReqs []Request
}

// group builds the steps of one set of requests (required or optional) in plan order.
func (b *builder) group(reqs []Request, optional bool) []Step {
	byKind := map[finding.Kind][]Request{}
	for _, r := range reqs {
		byKind[r.Intent.Kind] = append(byKind[r.Intent.Kind], r)
	}
	var steps []Step
	add := func(s ...Step) {
		for _, st := range s {
			st.Optional = optional
			steps = append(steps, st)
		}
	}
	for _, k := range kinds {
		add(k.build(b, byKind[k.kind], optional)...)
	}
	return steps
}

// probeIDs are the distinct probe ids of reqs, sorted.
func probeIDs(reqs []Request) []string {
	var ids []string
	for _, r := range reqs {
		ids = append(ids, r.ProbeID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// intentIDs are the distinct intent ids of reqs, sorted.
func intentIDs(reqs []Request) []string {
	var ids []string
	for _, r := range reqs {
		ids = append(ids, IntentID(r.Intent))
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// reasons are the distinct reasons of reqs, in order, each followed by its probe.
func reasons(reqs []Request) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range reqs {
		if r.Intent.Reason == "" {
			continue
		}
		line := r.Intent.Reason + " (" + r.ProbeID + ")"
		if !seen[line] {
			seen[line] = true
			out = append(out, line)
		}
	}
	return out
}

// newStep fills the parts every step shares.
func newStep(id, title string, reqs []Request) Step {
	return Step{ID: id, Title: title, Fixes: probeIDs(reqs), Intents: intentIDs(reqs), Why: reasons(reqs)}
}

// joinAnd joins words as "a, b and c".
func joinAnd(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// suffix is appended to the ids of grouped steps in the optional part of a plan, so that
// ids stay unique.
func suffix(optional bool) string {
	if optional {
		return ".optional"
	}
	return ""
}

// distroName is the distribution's name for comments, or its id when the pretty name is
// not safe to print.
func (b *builder) distroName() string {
	if n := b.distro.PrettyName; n != "" && CheckText("distribution name", n) == nil {
		return n
	}
	if b.distro.ID != "" && CheckText("distribution id", b.distro.ID) == nil {
		return b.distro.ID
	}
	return "this distribution"
}

// readText reads a file through the host; a missing or unreadable file reads as empty.
func (b *builder) readText(p string) string {
	data, err := b.host.ReadFile(p)
	if err != nil {
		return ""
	}
	return string(data)
}

// byField groups requests by a key, keeping the (sorted) order of first appearance.
func byField(reqs []Request, key func(Request) string) ([]string, map[string][]Request) {
	var keys []string
	m := map[string][]Request{}
	for _, r := range reqs {
		k := key(r)
		if _, ok := m[k]; !ok {
			keys = append(keys, k)
		}
		m[k] = append(m[k], r)
	}
	return keys, m
}
