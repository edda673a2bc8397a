package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/jstemmer/go-junit-report/v2/junit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// Fleet is one run over several recorded hosts (`check --root A --root B …`): fleet triage
// of snapshots or image trees.
type Fleet struct {
	Hosts []FleetHost
}

// FleetHost is one host of a fleet run: its report, or why it could not be read.
type FleetHost struct {
	// Root is the --root the host came from (a directory or a .tar.gz).
	Root   string
	Report *Report
	// Err is set when the host could not be opened; Report is nil then.
	Err error
}

// FleetFormats are the --output formats a fleet run supports.
var fleetRenderers = map[string]func(io.Writer, *Fleet, Options) error{
	"text":       renderFleetText,
	"jsonl":      renderFleetJSONL,
	"junit":      renderFleetJUnit,
	"prometheus": renderFleetPrometheus,
}

// FleetFormats lists the --output formats of a run over several hosts, sorted.
func FleetFormats() []string {
	var names []string
	for n := range fleetRenderers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// RenderFleet writes a fleet run in the named format.
func RenderFleet(format string, w io.Writer, f *Fleet, opt Options) error {
	fn, ok := fleetRenderers[format]
	if !ok {
		return fmt.Errorf("--output %s does not take several hosts (want one of %s)", format, strings.Join(FleetFormats(), ", "))
	}
	return fn(w, f, opt)
}

// ExitCode is 2 when a host could not be read, else 1 when a host failed, else 0.
func (f *Fleet) ExitCode() int {
	code := 0
	for _, h := range f.Hosts {
		switch {
		case h.Err != nil:
			return 2
		case !h.Report.OK():
			code = 1
		}
	}
	return code
}

// renderFleetText writes one line per host and a summary line:
//
//	fail  fixtures/missing-subuid  debian 12, kernel 6.1.0, user alice  fail: idmap.subuid, idmap.subgid
//	ok    fixtures/fedora-41-ok    fedora 41, kernel 6.11.4, user alice  2 warnings
//	error broken.tar.gz            opening recorded host: …
//	3 hosts: 1 ok, 1 failing, 1 unreadable
func renderFleetText(w io.Writer, f *Fleet, _ Options) error {
	width := 0
	for _, h := range f.Hosts {
		width = max(width, len(oneLine(h.Root)))
	}
	var b strings.Builder
	var ok, failing, broken int
	for _, h := range f.Hosts {
		root := oneLine(h.Root)
		pad := strings.Repeat(" ", width-len(root))
		if h.Err != nil {
			broken++
			fmt.Fprintf(&b, "error %s%s  %s\n", root, pad, oneLine(h.Err.Error()))
			continue
		}
		r := h.Report
		verdict := "ok   "
		if !r.OK() {
			verdict = "fail "
			failing++
		} else {
			ok++
		}
		fmt.Fprintf(&b, "%s %s%s  %s  %s\n", verdict, root, pad, r.Host.hostLine(), fleetFindings(r))
	}
	fmt.Fprintf(&b, "%d hosts: %d ok, %d failing, %d unreadable\n", len(f.Hosts), ok, failing, broken)
	_, err := io.WriteString(w, b.String())
	return err
}

// fleetFindings names the probes that failed and warned, or says all passed.
func fleetFindings(r *Report) string {
	var fails, warns []string
	for _, res := range r.Results {
		switch statusName(res.Status) {
		case finding.Fail:
			fails = append(fails, oneLine(res.ID))
		case finding.Warn:
			warns = append(warns, oneLine(res.ID))
		}
	}
	var parts []string
	if len(fails) > 0 {
		parts = append(parts, "fail: "+strings.Join(fails, ", "))
	}
	if len(warns) > 0 {
		parts = append(parts, "warn: "+strings.Join(warns, ", "))
	}
	if len(parts) == 0 {
		return "all passed"
	}
	return strings.Join(parts, "; ")
}

// jsonlReport is one line of --output jsonl: the report of --output json (schema
// rootless-doctor/v1) with the root it came from, or the error that kept it from being read.
type jsonlReport struct {
	Root  string `json:"root,omitempty"`
	Error string `json:"error,omitempty"`
	*jsonReport
}

func writeJSONL(w io.Writer, root string, r *Report, err error) error {
	line := jsonlReport{Root: root}
	if err != nil {
		line.Error = err.Error()
	} else {
		jr := toJSON(r)
		line.jsonReport = &jr
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(line)
}

// renderJSONL is --output jsonl for one host: the JSON report on one line.
func renderJSONL(w io.Writer, r *Report, _ Options) error { return writeJSONL(w, "", r, nil) }

func renderFleetJSONL(w io.Writer, f *Fleet, _ Options) error {
	for _, h := range f.Hosts {
		if err := writeJSONL(w, h.Root, h.Report, h.Err); err != nil {
			return err
		}
	}
	return nil
}

// renderFleetJUnit writes one testsuite per host, named by its root, so a CI job shows each
// image or host as a group; a host that could not be read is a suite with one error case.
func renderFleetJUnit(w io.Writer, f *Fleet, _ Options) error {
	suites := junit.Testsuites{Name: junitSuite}
	for _, h := range f.Hosts {
		if h.Err != nil {
			s := junit.Testsuite{Name: oneLine(h.Root)}
			s.AddTestcase(junit.Testcase{Name: "open", Classname: "host", Error: &junit.Result{Message: oneLine(h.Err.Error())}})
			suites.AddSuite(s)
			continue
		}
		s := junitSuiteOf(h.Report)
		s.Name = oneLine(h.Root)
		suites.AddSuite(s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	if err := suites.WriteXML(w); err != nil {
		return fmt.Errorf("writing junit xml: %w", err)
	}
	return nil
}

// junitSuiteOf is the testsuite renderJUnit writes for one report.
func junitSuiteOf(r *Report) junit.Testsuite {
	suite := junit.Testsuite{Name: junitSuite}
	suite.AddProperty("distro", r.Host.distroID())
	suite.AddProperty("kernel", oneLine(r.Host.Kernel))
	suite.AddProperty("user", oneLine(r.Host.User.Name))
	addToolProperties(&suite, r.Tool)
	var total time.Duration
	for _, g := range r.Grouped() {
		for _, res := range g.Results {
			total += res.Duration
			suite.AddTestcase(junitCase(r, g.Name, res))
		}
	}
	suite.Time = seconds(total)
	return suite
}

// FleetRegistry holds the metrics of --output prometheus for several hosts: the families of
// one host with a root label, plus rootless_doctor_up{root} (0 when the host could not be
// read). Durations are left out: a fleet run replays recordings, its timings say nothing.
func FleetRegistry(f *Fleet) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	probeOK := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricProbeOK,
		Help: "Whether the probe passed: 1 unless its status fails the run (fail, or warn with --fail-on warn)."},
		[]string{"root", "id", "group"})
	status := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricProbeStatus,
		Help: "The probe's status: 1 for the current status (pass, warn, fail or skip), 0 for the others."},
		[]string{"root", "id", "group", "status"})
	ok := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricOK,
		Help: "Whether the run passed: 1 when nothing failed (with --fail-on warn, nothing warned either)."}, []string{"root"})
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricInfo,
		Help: "The host and account the report is about; always 1."}, append([]string{"root"}, infoLabels...))
	up := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "rootless_doctor_up",
		Help: "Whether the recorded host could be read: 0 when its directory or archive is broken."}, []string{"root"})
	reg.MustRegister(probeOK, status, ok, info, up)
	for _, h := range f.Hosts {
		if h.Report != nil {
			if err := buildInfo(reg, h.Report.Tool); err != nil {
				return nil, err
			}
			break
		}
	}
	for _, h := range f.Hosts {
		root := oneLine(h.Root)
		if h.Err != nil {
			up.WithLabelValues(root).Set(0)
			ok.WithLabelValues(root).Set(0)
			continue
		}
		r := h.Report
		up.WithLabelValues(root).Set(1)
		ok.WithLabelValues(root).Set(boolGauge(r.OK()))
		info.WithLabelValues(root, oneLine(r.Host.Distro.ID), oneLine(r.Host.Distro.VersionID),
			oneLine(r.Host.Kernel), oneLine(r.Host.User.Name)).Set(1)
		for _, res := range r.Results {
			id, group := oneLine(res.ID), oneLine(groupOf(res.ID))
			probeOK.WithLabelValues(root, id, group).Set(boolGauge(!r.failsRun(res)))
			for _, st := range promStatuses {
				status.WithLabelValues(root, id, group, string(st)).Set(boolGauge(statusName(res.Status) == st))
			}
		}
	}
	return reg, nil
}

// Registry is the registry of --output prometheus for one report (for --textfile).
func Registry(r *Report) (*prometheus.Registry, error) { return promRegistry(r) }

func renderFleetPrometheus(w io.Writer, f *Fleet, _ Options) error {
	reg, err := FleetRegistry(f)
	if err != nil {
		return err
	}
	mfs, err := reg.Gather()
	if err != nil {
		return fmt.Errorf("gathering metrics: %w", err)
	}
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
			return fmt.Errorf("writing metrics: %w", err)
		}
	}
	return nil
}
