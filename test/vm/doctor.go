package vm

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// DoctorPath is where the harness puts the rootless-doctor binary in the guest.
const DoctorPath = "/usr/local/bin/rootless-doctor"

// Doctor is rootless-doctor's verdict, read from `check -o json` or `prove -o json` (schema
// rootless-doctor/v1, documented in the README: results with id, status, summary, evidence;
// ok; summary counts).
type Doctor struct {
	Ran     bool
	Exit    int
	OK      bool
	Results map[string]DoctorResult
	Order   []string
}

// DoctorResult is one probe's or proof step's result.
type DoctorResult struct {
	ID       string     `json:"id"`
	Status   string     `json:"status"`
	Summary  string     `json:"summary"`
	Details  []string   `json:"details"`
	Evidence []Evidence `json:"evidence"`
}

// Evidence is one thing a probe read.
type Evidence struct {
	Source string `json:"source"`
	Value  string `json:"value"`
}

type doctorJSON struct {
	Schema  string         `json:"schema"`
	Results []DoctorResult `json:"results"`
	OK      bool           `json:"ok"`
}

// ParseDoctor reads a JSON report. exit is the command's exit status.
func ParseDoctor(stdout string, exit int) (Doctor, error) {
	var j doctorJSON
	if err := json.Unmarshal([]byte(stdout), &j); err != nil {
		return Doctor{}, fmt.Errorf("reading rootless-doctor's JSON report (exit %d): %w", exit, err)
	}
	if j.Schema != "rootless-doctor/v1" {
		return Doctor{}, fmt.Errorf("report schema %q, want rootless-doctor/v1", j.Schema)
	}
	d := Doctor{Ran: true, Exit: exit, OK: j.OK, Results: map[string]DoctorResult{}}
	for _, r := range j.Results {
		d.Results[r.ID] = r
		d.Order = append(d.Order, r.ID)
	}
	return d, nil
}

// Status is the status of probe id ("" when the report does not have it).
func (d Doctor) Status(id string) string { return d.Results[id].Status }

// Failed lists the probes that failed, in report order.
func (d Doctor) Failed() []string { return d.with("fail") }

func (d Doctor) with(status string) []string {
	var ids []string
	for _, id := range d.Order {
		if d.Results[id].Status == status {
			ids = append(ids, id)
		}
	}
	return ids
}

// dockerOnly are the probes about dockerd alone: a failure there does not stop Podman.
var dockerOnly = []string{"net.iptables", "conflict.rootful"}

// ReadyFor says whether the report lets engine run: no failed probe, ignoring the probes of
// other engines (dockerOnly, and every other engine's engine.NAME verdict).
func (d Doctor) ReadyFor(engine string) bool {
	for _, id := range d.Failed() {
		if engine != "docker" && slices.Contains(dockerOnly, id) {
			continue
		}
		if strings.HasPrefix(id, "engine.") && id != "engine."+engine {
			continue
		}
		return false
	}
	return true
}

// Verdict is a short line for the matrix: "ready" or "NOT ready: fails a, b".
func (d Doctor) Verdict() string {
	if !d.Ran {
		return "not run"
	}
	if f := d.Failed(); len(f) > 0 {
		return "NOT ready: fails " + strings.Join(f, ", ")
	}
	return fmt.Sprintf("ready (%d warn)", len(d.with("warn")))
}

// Describe is "id status: summary", for the matrix and the transcript.
func (d Doctor) Describe(id string) string {
	r, ok := d.Results[id]
	if !ok {
		return id + " absent"
	}
	return fmt.Sprintf("%s %s: %s", id, r.Status, clip(r.Summary, 110))
}

// Limits is the doctor's claim about --memory/--pids-limit.
type Limits int

const (
	// LimitsUnproven: cgroup v2, but the live proof did not decide (skipped).
	LimitsUnproven Limits = iota
	// LimitsEnforced: runtime.cgroup saw the kernel enforce a limit in a delegated group.
	LimitsEnforced
	// LimitsNotEnforced: runtime.cgroup failed.
	LimitsNotEnforced
	// LimitsIgnored: cgroup v1 or hybrid, where rootless engines set no limits.
	LimitsIgnored
)

// LimitsClaim reads the doctor's claim from runtime.cgroup, and cgroup.version when the proof
// skipped.
func (d Doctor) LimitsClaim() Limits {
	switch d.Status("runtime.cgroup") {
	case "pass":
		return LimitsEnforced
	case "fail":
		return LimitsNotEnforced
	}
	// cgroup.version warns on v1 and hybrid hosts ("limits are ignored in rootless mode").
	if d.Status("cgroup.version") == "warn" {
		return LimitsIgnored
	}
	return LimitsUnproven
}

func (l Limits) String() string {
	return [...]string{"unproven", "enforced", "NOT enforced", "ignored (cgroup v1)"}[l]
}

// Delegated returns the controllers cgroup.delegation found delegated to the account, from its
// evidence (the cgroup.controllers of the account's user manager or own cgroup). ok is false
// when the probe read no such file.
func (d Doctor) Delegated() (controllers []string, ok bool) {
	for _, e := range d.Results["cgroup.delegation"].Evidence {
		if !strings.HasSuffix(e.Source, "/cgroup.controllers") || e.Source == "/sys/fs/cgroup/cgroup.controllers" {
			continue
		}
		if e.Value == "(absent)" {
			continue
		}
		if e.Value == "none" {
			return nil, true
		}
		return strings.Fields(e.Value), true
	}
	return nil, false
}

// StorageDriver is Docker's storage driver as storage.driver names it: the first word of its
// summary ("overlay2", "fuse-overlayfs"), or, when the summary is about Podman's driver (a
// Podman warning comes first), the first word of the "also: " detail that carries Docker's.
func (d Doctor) StorageDriver() string {
	r := d.Results["storage.driver"]
	f := strings.Fields(r.Summary)
	if len(f) == 0 {
		return ""
	}
	if f[0] != "podman:" {
		return f[0]
	}
	for _, det := range r.Details {
		if rest, ok := strings.CutPrefix(det, "also: "); ok {
			if w := strings.Fields(rest); len(w) > 0 {
				return w[0]
			}
		}
	}
	return ""
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
