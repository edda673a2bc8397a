package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/jstemmer/go-junit-report/v2/junit"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// sampleFleet has a failing host, a passing one, an unreadable one, and hostile roots.
func sampleFleet() *Fleet {
	return &Fleet{Hosts: []FleetHost{
		{Root: "snaps/b-failing", Report: sampleReport(finding.Fail)},
		{Root: "snaps/a-ok", Report: okReport()},
		{Root: "snaps/broken.tar.gz", Err: errors.New("opening recorded host: unexpected EOF")},
		{Root: "snaps/\x1b[31mred\"q\\uote\nd", Report: sampleReport(finding.Warn)},
	}}
}

func renderFleet(t *testing.T, format string, f *Fleet, opt Options) string {
	t.Helper()
	var b bytes.Buffer
	if err := RenderFleet(format, &b, f, opt); err != nil {
		t.Fatalf("RenderFleet %s: %v", format, err)
	}
	return b.String()
}

// TestFleetJUnitMatchesWholeDocument: the streamed JUnit document is byte for byte the one
// junit.Testsuites.WriteXML writes for the whole fleet at once (what the fleet wrote before
// it streamed, issue 16).
func TestFleetJUnitMatchesWholeDocument(t *testing.T) {
	for name, f := range map[string]*Fleet{"sample": sampleFleet(), "one": {Hosts: sampleFleet().Hosts[:1]}, "none": {}} {
		t.Run(name, func(t *testing.T) {
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
			var want bytes.Buffer
			want.WriteString(xml.Header)
			if err := suites.WriteXML(&want); err != nil {
				t.Fatal(err)
			}
			if got := renderFleet(t, "junit", f, Options{}); got != want.String() {
				t.Errorf("streamed junit differs:\n--- got\n%s--- want\n%s", got, want.String())
			}
		})
	}
}

// TestFleetJSONIsAnArray: --output json over a fleet is json.MarshalIndent of the jsonl
// objects, an array.
func TestFleetJSONIsAnArray(t *testing.T) {
	for name, f := range map[string]*Fleet{"sample": sampleFleet(), "one": {Hosts: sampleFleet().Hosts[:1]}, "none": {}} {
		t.Run(name, func(t *testing.T) {
			objs := []jsonlReport{}
			for _, h := range f.Hosts {
				objs = append(objs, newJSONL(h.Root, h.Report, h.Err))
			}
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(objs); err != nil {
				t.Fatal(err)
			}
			got := renderFleet(t, "json", f, Options{})
			if got != want.String() {
				t.Errorf("json array differs:\n--- got\n%s--- want\n%s", got, want.String())
			}
			var back []map[string]any
			if err := json.Unmarshal([]byte(got), &back); err != nil || len(back) != len(f.Hosts) {
				t.Errorf("%d elements (%v), want %d", len(back), err, len(f.Hosts))
			}
		})
	}
}

// refFleetRegistry is the fleet registry of before issue 16 (with issue 15's build_info and
// distro_version), with client_golang.
func refFleetRegistry(f *Fleet) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	probeOK := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricProbeOK, Help: helpProbeOK}, []string{"root", "id", "group"})
	status := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricProbeStatus, Help: helpProbeStatus}, []string{"root", "id", "group", "status"})
	ok := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricOK, Help: helpOK}, []string{"root"})
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricInfo, Help: helpInfo}, append([]string{"root"}, infoLabels...))
	up := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricUp, Help: helpUp}, []string{"root"})
	reg.MustRegister(probeOK, status, ok, info, up)
	for _, h := range f.Hosts {
		if h.Report != nil {
			refBuildInfo(reg, h.Report.Tool)
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
		info.WithLabelValues(root, oneLine(r.Host.Distro.ID), oneLine(r.Host.Distro.VersionID), oneLine(r.Host.Kernel), oneLine(r.Host.User.Name)).Set(1)
		for _, res := range r.Results {
			id, group := oneLine(res.ID), oneLine(groupOf(res.ID))
			probeOK.WithLabelValues(root, id, group).Set(boolGauge(!r.failsRun(res)))
			for _, st := range promStatuses {
				status.WithLabelValues(root, id, group, string(st)).Set(boolGauge(statusName(res.Status) == st))
			}
		}
	}
	return reg
}

// TestFleetPrometheus: the streamed families hold exactly client_golang's lines, each family
// together and in the same family order; within a family the series come host by host in
// fleet order (client_golang sorted them over the whole fleet, which needs every host in
// memory). It parses back.
func TestFleetPrometheus(t *testing.T) {
	f := sampleFleet()
	got := renderFleet(t, "prometheus", f, Options{})
	want := gatherText(t, refFleetRegistry(f))
	families := func(s string) (names []string, lines map[string][]string) {
		lines = map[string][]string{}
		for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
			if rest, ok := strings.CutPrefix(l, "# HELP "); ok {
				name, _, _ := strings.Cut(rest, " ")
				names = append(names, name)
			}
			lines[names[len(names)-1]] = append(lines[names[len(names)-1]], l)
		}
		return names, lines
	}
	gotNames, gotLines := families(got)
	wantNames, wantLines := families(want)
	if !slices.Equal(gotNames, wantNames) {
		t.Fatalf("families %v, want %v", gotNames, wantNames)
	}
	for _, n := range wantNames {
		g, w := slices.Clone(gotLines[n]), slices.Clone(wantLines[n])
		slices.Sort(g)
		slices.Sort(w)
		if !slices.Equal(g, w) {
			t.Errorf("%s: lines differ:\n--- got\n%s\n--- want\n%s", n, strings.Join(gotLines[n], "\n"), strings.Join(wantLines[n], "\n"))
		}
	}
	// Host by host: the first host's probe_ok series come before the second's.
	first := strings.Index(got, `rootless_doctor_probe_ok{group="custom",id="custom.extra",root="snaps/b-failing"}`)
	second := strings.Index(got, `rootless_doctor_probe_ok{group="identity",id="identity.user",root="snaps/a-ok"}`)
	if first < 0 || second < 0 || first > second {
		t.Errorf("series not in host order (%d, %d):\n%s", first, second, got)
	}
}

// TestFleetText: one line per host, a summary, and under -v the failing and warning probes of
// each host with their details and fixes; nothing else.
func TestFleetText(t *testing.T) {
	plain := renderFleet(t, "text", sampleFleet(), Options{})
	lines := strings.Split(strings.TrimSuffix(plain, "\n"), "\n")
	if len(lines) != 5 || lines[4] != "4 hosts: 1 ok, 2 failing, 1 unreadable" {
		t.Fatalf("text:\n%s", plain)
	}
	for i, prefix := range []string{"fail  snaps/b-failing    ", "ok    snaps/a-ok         ", "error snaps/broken.tar.gz  opening", "fail  snaps/red\"q\\uote d   Debian"} {
		if !strings.HasPrefix(lines[i], prefix) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], prefix)
		}
	}
	verbose := renderFleet(t, "text", sampleFleet(), Options{Verbose: true})
	for _, want := range []string{
		"\n      ✗ idmap.subuid  alice has no range in /etc/subuid\n",
		"\n            fix: ",
		"\n      ! net.ping_group  ping inside containers is restricted | needs net.ipv4.ping_group_range\n",
		"\n      ! session.linger  lingering is off for alice\n",
	} {
		if !strings.Contains(verbose, want) {
			t.Errorf("-v output lacks %q:\n%s", want, verbose)
		}
	}
	if strings.Contains(verbose, "identity.user") {
		t.Errorf("-v shows a passing probe:\n%s", verbose)
	}
	for _, l := range strings.Split(verbose, "\n") {
		if strings.ContainsAny(l, "\x1b\r") || strings.TrimRight(l, " ") != l {
			t.Errorf("unclean line %q", l)
		}
	}
}

// TestFleetWriterLeavesNoFiles: the spools of junit and prometheus are unlinked at once, on
// success and on a failed write.
func TestFleetWriterLeavesNoFiles(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	for _, format := range FleetFormats() {
		renderFleet(t, format, sampleFleet(), Options{})
		if err := RenderFleet(format, failingWriter{}, sampleFleet(), Options{}); err == nil {
			t.Errorf("%s: a failing writer gave no error", format)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// TestFleetCounts: the exit code comes from the counts alone.
func TestFleetCounts(t *testing.T) {
	fw, err := NewFleetWriter("jsonl", io.Discard, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range sampleFleet().Hosts {
		if err := fw.Write(fw.Encode(h)); err != nil {
			t.Fatal(err)
		}
	}
	if c := fw.Counts(); c != (FleetCounts{Hosts: 4, OK: 1, Failing: 2, Unreadable: 1}) || c.ExitCode() != 2 {
		t.Errorf("counts %+v, exit %d", c, c.ExitCode())
	}
	if code := (&Fleet{Hosts: sampleFleet().Hosts[:2]}).ExitCode(); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
}
