package report

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// refRegistry is the registry --output prometheus was written from before issue 16 (with
// issue 15's build_info and distro_version), built with client_golang: the reference the
// direct writer (promtext.go) must match byte for byte.
func refRegistry(t testing.TB, r *Report) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	probeOK := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricProbeOK, Help: helpProbeOK}, []string{"id", "group"})
	status := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricProbeStatus, Help: helpProbeStatus}, []string{"id", "group", "status"})
	duration := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricProbeDuration, Help: helpProbeDuration}, []string{"id", "group"})
	ok := prometheus.NewGauge(prometheus.GaugeOpts{Name: metricOK, Help: helpOK})
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricInfo, Help: helpInfo}, infoLabels)
	reg.MustRegister(probeOK, status, duration, ok, info)
	refBuildInfo(reg, r.Tool)
	for _, res := range r.Results {
		id, group := oneLine(res.ID), oneLine(groupOf(res.ID))
		probeOK.WithLabelValues(id, group).Set(boolGauge(!r.failsRun(res)))
		for _, st := range promStatuses {
			status.WithLabelValues(id, group, string(st)).Set(boolGauge(statusName(res.Status) == st))
		}
		duration.WithLabelValues(id, group).Set(res.Duration.Seconds())
	}
	ok.Set(boolGauge(r.OK()))
	info.WithLabelValues(oneLine(r.Host.Distro.ID), oneLine(r.Host.Distro.VersionID), oneLine(r.Host.Kernel), oneLine(r.Host.User.Name)).Set(1)
	return reg
}

// refBuildInfo registers rootless_doctor_build_info as client_golang did (issue 15).
func refBuildInfo(reg *prometheus.Registry, t Tool) {
	if t.Version == "" {
		return
	}
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricBuildInfo, Help: helpBuildInfo}, buildInfoLabels)
	reg.MustRegister(g)
	g.WithLabelValues(oneLine(t.Version), oneLine(t.Revision), oneLine(t.Go)).Set(1)
}

// gatherText is what client_golang wrote for a registry.
func gatherText(t testing.TB, g prometheus.Gatherer) string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// TestPrometheusMatchesClientGolang: the direct writer gives client_golang's bytes for every
// report the other tests use, for hostile label values, repeated probe ids, and durations of
// every magnitude.
func TestPrometheusMatchesClientGolang(t *testing.T) {
	hostile := sampleReport(finding.Fail)
	hostile.Host.Kernel = "6.1 \"quoted\" \\ back\nslash \x1b[31m\xff"
	hostile.Host.User.Name = "\u00e9l\u00e8ve\t\\n"
	dup := okReport()
	dup.Results = append(dup.Results, dup.Results...)
	dup.Results[4].Status = finding.Fail
	reports := map[string]*Report{
		"sample-fail": sampleReport(finding.Fail), "sample-warn": sampleReport(finding.Warn),
		"ok": okReport(), "hostile": hostile, "duplicate-ids": dup, "empty": {FailOn: finding.Fail}, "zero": {},
		"odd": {Results: []finding.Result{{ID: "", Status: "bogus"}, {ID: "nodot", Status: finding.Fail}, {ID: "a.b.c", Status: finding.Warn}}},
	}
	rng := rand.New(rand.NewPCG(16, 16))
	for i := range 50 {
		r := sampleReport(finding.Fail)
		for j := range r.Results {
			r.Results[j].Duration = time.Duration(rng.Int64N(int64(math.MaxInt64>>uint(rng.IntN(63)))) + 1)
			r.Results[j].ID = randomLabel(rng)
		}
		r.Host.Distro.ID, r.Host.User.Name = randomLabel(rng), randomLabel(rng)
		reports[fmt.Sprintf("random-%d", i)] = r
	}
	for name, r := range reports {
		t.Run(name, func(t *testing.T) {
			want := gatherText(t, refRegistry(t, r))
			var got bytes.Buffer
			if err := renderPrometheus(&got, r, Options{}); err != nil {
				t.Fatal(err)
			}
			if got.String() != want {
				t.Errorf("differs from client_golang:\n--- got\n%s--- want\n%s", got.String(), want)
			}
		})
	}
}

// randomLabel is a label value with the characters that need escaping or cleaning.
func randomLabel(rng *rand.Rand) string {
	alphabet := []string{"a", "Z", "0", ".", "_", " ", "\"", "\\", "\n", "\t", "\x1b[1m", "\xff", "é", "✓", "{", "}", ","}
	var b strings.Builder
	for range rng.IntN(12) {
		b.WriteString(alphabet[rng.IntN(len(alphabet))])
	}
	return b.String()
}

func TestPrometheusGauges(t *testing.T) {
	tests := []struct {
		name   string
		failOn finding.Status
		want   string
	}{
		{"fail-on-fail", finding.Fail, `
# HELP rootless_doctor_ok Whether the run passed: 1 when nothing failed (with --fail-on warn, nothing warned either).
# TYPE rootless_doctor_ok gauge
rootless_doctor_ok 0
# HELP rootless_doctor_info The host and account the report is about; always 1.
# TYPE rootless_doctor_info gauge
rootless_doctor_info{distro="debian",distro_version="12",kernel="6.18.0-test",user="alice"} 1
# HELP rootless_doctor_build_info The rootless-doctor build that made the report; always 1.
# TYPE rootless_doctor_build_info gauge
rootless_doctor_build_info{goversion="go1.26.0",revision="0123456789abcdef0123456789abcdef01234567",version="v1.2.3"} 1
`},
		{"fail-on-warn", finding.Warn, `
# HELP rootless_doctor_ok Whether the run passed: 1 when nothing failed (with --fail-on warn, nothing warned either).
# TYPE rootless_doctor_ok gauge
rootless_doctor_ok 0
# HELP rootless_doctor_info The host and account the report is about; always 1.
# TYPE rootless_doctor_info gauge
rootless_doctor_info{distro="debian",distro_version="12",kernel="6.18.0-test",user="alice"} 1
# HELP rootless_doctor_build_info The rootless-doctor build that made the report; always 1.
# TYPE rootless_doctor_build_info gauge
rootless_doctor_build_info{goversion="go1.26.0",revision="0123456789abcdef0123456789abcdef01234567",version="v1.2.3"} 1
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := renderedGatherer(t, sampleReport(tc.failOn))
			if err := testutil.GatherAndCompare(g, strings.NewReader(tc.want), metricOK, metricInfo, metricBuildInfo); err != nil {
				t.Error(err)
			}
			// One series per probe for ok and duration, four for status.
			for name, want := range map[string]int{metricProbeOK: 10, metricProbeDuration: 10, metricProbeStatus: 40, metricOK: 1, metricInfo: 1} {
				if n, err := testutil.GatherAndCount(g, name); err != nil || n != want {
					t.Errorf("%s: %d series (%v), want %d", name, n, err, want)
				}
			}
		})
	}
}

// renderedGatherer parses the rendered text back into a gatherer, for testutil.
func renderedGatherer(t *testing.T, r *Report) prometheus.Gatherer {
	t.Helper()
	var buf bytes.Buffer
	if err := renderPrometheus(&buf, r, Options{}); err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatalf("output does not parse: %v", err)
	}
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		var out []*dto.MetricFamily
		for _, mf := range mfs {
			out = append(out, mf)
		}
		// Sorted by name, as a registry gathers: the parser returns a map.
		slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
		return out, nil
	})
}

func TestPrometheusProbeSeries(t *testing.T) {
	// net.slirp4netns warns: ok under --fail-on fail, not ok under --fail-on warn.
	for failOn, ok := range map[finding.Status]string{finding.Fail: "1", finding.Warn: "0"} {
		g := renderedGatherer(t, sampleReport(failOn))
		want := `
# HELP rootless_doctor_probe_ok Whether the probe passed: 1 unless its status fails the run (fail, or warn with --fail-on warn).
# TYPE rootless_doctor_probe_ok gauge
rootless_doctor_probe_ok{group="custom",id="custom.extra"} 1
rootless_doctor_probe_ok{group="identity",id="identity.user"} 1
rootless_doctor_probe_ok{group="idmap",id="idmap.newuidmap"} ` + ok + `
rootless_doctor_probe_ok{group="idmap",id="idmap.subuid"} 0
rootless_doctor_probe_ok{group="net",id="net.ping"} 1
rootless_doctor_probe_ok{group="net",id="net.ping_group"} ` + ok + `
rootless_doctor_probe_ok{group="net",id="net.slirp4netns"} ` + ok + `
rootless_doctor_probe_ok{group="net",id="net.tun"} 0
rootless_doctor_probe_ok{group="session",id="session.dbus"} 1
rootless_doctor_probe_ok{group="storage",id="storage.driver"} 1
`
		if err := testutil.GatherAndCompare(g, strings.NewReader(want), metricProbeOK); err != nil {
			t.Errorf("fail-on %s: %v", failOn, err)
		}
	}
}

func TestPrometheusParsesBack(t *testing.T) {
	r := sampleReport(finding.Fail)
	// Hostile label values: quotes, backslashes, a newline, ESC, invalid UTF-8.
	r.Host.Kernel = "6.1 \"quoted\" \\ back\nslash \x1b[31m\xff"
	var buf bytes.Buffer
	if err := renderPrometheus(&buf, r, Options{}); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatalf("output does not parse: %v", err)
	}
	if len(mfs) != 6 {
		t.Errorf("%d families, want 6", len(mfs))
	}
	status := mfs[metricProbeStatus]
	if status == nil {
		t.Fatal("no probe_status family")
	}
	current := map[string]string{}
	for _, m := range status.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if m.GetGauge().GetValue() == 1 {
			if prev, dup := current[labels["id"]]; dup {
				t.Errorf("%s has two current statuses: %s and %s", labels["id"], prev, labels["status"])
			}
			current[labels["id"]] = labels["status"]
		}
	}
	for _, res := range r.Results {
		if current[res.ID] != string(res.Status) {
			t.Errorf("%s: status series says %q, want %q", res.ID, current[res.ID], res.Status)
		}
	}
	info := mfs[metricInfo].GetMetric()[0]
	for _, l := range info.GetLabel() {
		if l.GetName() == "kernel" && l.GetValue() != "6.1 \"quoted\" \\ back slash \uFFFD" {
			t.Errorf("kernel label %q", l.GetValue())
		}
	}
}

// TestPromtool runs Prometheus's own linter on the exposition, one host and a fleet: promtool
// from $PROMTOOL or PATH (.ci/run extracts it from Debian's prometheus package without
// installing the server). The parse with expfmt above runs everywhere.
func TestPromtool(t *testing.T) {
	tool := os.Getenv("PROMTOOL")
	if tool == "" {
		var err error
		if tool, err = exec.LookPath("promtool"); err != nil {
			t.Skip("skipping: promtool is not installed (.ci/run extracts it from Debian's prometheus package into $PROMTOOL)")
		}
	}
	var one, fleet bytes.Buffer
	if err := renderPrometheus(&one, sampleReport(finding.Fail), Options{}); err != nil {
		t.Fatal(err)
	}
	f := &Fleet{Hosts: []FleetHost{{Root: "a", Report: sampleReport(finding.Fail)}, {Root: "b", Err: errors.New("broken")}}}
	if err := RenderFleet("prometheus", &fleet, f, Options{}); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string][]byte{"one host": one.Bytes(), "fleet": fleet.Bytes()} {
		cmd := exec.Command(tool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: promtool check metrics: %v\n%s\n%s", name, err, out, text)
		}
	}
}
