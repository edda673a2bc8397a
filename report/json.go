package report

import (
	"encoding/json"
	"io"
	"math"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixes"
)

// jsonReport is the stable JSON form (schema rootless-doctor/v1). Field order here is the
// order in the output; slices are never null so consumers need no nil checks.
type jsonReport struct {
	Schema  string          `json:"schema"`
	Tool    Tool            `json:"tool"`
	Host    HostInfo        `json:"host"`
	Results []jsonResult    `json:"results"`
	Plan    *fixes.Plan     `json:"plan"`
	Summary finding.Summary `json:"summary"`
	OK      bool            `json:"ok"`
	// FailOn is the --fail-on OK was computed with ("fail" or "warn").
	FailOn finding.Status `json:"fail_on"`
	Notes  []string       `json:"notes,omitempty"`
}

type jsonResult struct {
	ID         string             `json:"id"`
	Title      string             `json:"title"`
	Status     finding.Status     `json:"status"`
	Summary    string             `json:"summary"`
	Details    []string           `json:"details"`
	Evidence   []finding.Evidence `json:"evidence"`
	Fixes      []string           `json:"fixes"`
	DurationMS float64            `json:"duration_ms"`
	// Engine is set on the engine.* results (docs/cli.md).
	Engine *finding.Engine `json:"engine,omitempty"`
	// Ignored: waived with --ignore; it fails no run.
	Ignored bool `json:"ignored,omitempty"`
}

func toJSON(r *Report) jsonReport {
	out := jsonHead(r)
	out.Results = make([]jsonResult, 0, len(r.Results))
	for i := range r.Results {
		out.Results = append(out.Results, toJSONResult(&r.Results[i]))
	}
	return out
}

// jsonHead is toJSON(r) without its results (nil): what the JSON writer needs before it
// converts and writes the results one by one (jsonenc.go).
func jsonHead(r *Report) jsonReport {
	out := jsonReport{Schema: Schema, Tool: r.Tool, Host: r.Host, Summary: r.Summary, OK: r.OK(), FailOn: r.failOn(), Notes: r.Notes, Plan: r.Plan}
	if out.Tool.Name == "" {
		out.Tool.Name = "rootless-doctor"
	}
	if out.Plan != nil && out.Plan.Steps == nil {
		out.Plan = &fixes.Plan{Steps: []fixes.Step{}}
	}
	return out
}

// toJSONResult is one result of toJSON.
func toJSONResult(res *finding.Result) jsonResult {
	jr := jsonResult{
		ID: res.ID, Title: res.Title, Status: res.Status, Summary: res.Summary,
		Details: res.Details, Evidence: res.Evidence, Fixes: fixes.FixIDs(*res),
		// Microsecond precision: enough for a probe, and keeps the number short.
		DurationMS: math.Round(float64(res.Duration.Microseconds())) / 1000,
		Engine:     res.Engine,
		Ignored:    res.Ignored,
	}
	if jr.Details == nil {
		jr.Details = []string{}
	}
	if jr.Evidence == nil {
		jr.Evidence = []finding.Evidence{}
	}
	return jr
}

func renderJSON(w io.Writer, r *Report, _ Options) error {
	head := jsonHead(r)
	b, ok := appendJSONReport(nil, &head, r, "", "  ")
	if !ok {
		return encodeJSON(w, toJSON(r), "", "  ")
	}
	_, err := w.Write(b)
	return err
}

// encodeJSON is what the reports were written with before jsonenc.go: encoding/json without
// HTML escaping, indented by prefix and indent (compact when both are ""). It remains for
// what the hand writer refuses (a NaN duration: encoding/json's error) and as the reference
// the tests compare the hand writer with.
func encodeJSON(w io.Writer, v any, prefix, indent string) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent(prefix, indent)
	return enc.Encode(v)
}
