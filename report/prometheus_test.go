package report

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

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
			reg, err := promRegistry(sampleReport(tc.failOn))
			if err != nil {
				t.Fatal(err)
			}
			if err := testutil.GatherAndCompare(reg, strings.NewReader(tc.want), metricOK, metricInfo, metricBuildInfo); err != nil {
				t.Error(err)
			}
			// One series per probe for ok and duration, four for status.
			for name, want := range map[string]int{metricProbeOK: 10, metricProbeDuration: 10, metricProbeStatus: 40, metricOK: 1, metricInfo: 1} {
				if n, err := testutil.GatherAndCount(reg, name); err != nil || n != want {
					t.Errorf("%s: %d series (%v), want %d", name, n, err, want)
				}
			}
		})
	}
}

func TestPrometheusProbeSeries(t *testing.T) {
	// net.slirp4netns warns: ok under --fail-on fail, not ok under --fail-on warn.
	for failOn, ok := range map[finding.Status]string{finding.Fail: "1", finding.Warn: "0"} {
		reg, err := promRegistry(sampleReport(failOn))
		if err != nil {
			t.Fatal(err)
		}
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
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), metricProbeOK); err != nil {
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
