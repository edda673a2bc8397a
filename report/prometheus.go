package report

import (
	"bytes"
	"fmt"
	"io"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// The metric names of --output prometheus. They are part of the output contract: alert rules
// and dashboards use them, so extend, never rename.
const (
	metricProbeOK       = "rootless_doctor_probe_ok"
	metricProbeStatus   = "rootless_doctor_probe_status"
	metricProbeDuration = "rootless_doctor_probe_duration_seconds"
	metricOK            = "rootless_doctor_ok"
	metricInfo          = "rootless_doctor_info"
	metricUp            = "rootless_doctor_up"
	metricBuildInfo     = "rootless_doctor_build_info"
)

// The help texts of the families.
const (
	helpProbeOK       = "Whether the probe passed: 1 unless its status fails the run (fail, or warn with --fail-on warn)."
	helpProbeStatus   = "The probe's status: 1 for the current status (pass, warn, fail or skip), 0 for the others."
	helpProbeDuration = "How long the probe took, in seconds."
	helpOK            = "Whether the run passed: 1 when nothing failed (with --fail-on warn, nothing warned either)."
	helpInfo          = "The host and account the report is about; always 1."
	helpUp            = "Whether the recorded host could be read: 0 when its directory or archive is broken."
	helpBuildInfo     = "The rootless-doctor build that made the report; always 1."
)

// infoLabels are the labels of rootless_doctor_info. The distribution's version is
// distro_version: until issue 15 it was "version", which read as the tool's version (now in
// rootless_doctor_build_info) — the one renamed label of the contract (docs/cli.md).
var infoLabels = []string{"distro", "distro_version", "kernel", "user"}

// buildInfoLabels are the labels of rootless_doctor_build_info, those of the *_build_info
// convention (prometheus/common's version collector).
var buildInfoLabels = []string{"version", "revision", "goversion"}

// buildInfo sets rootless_doctor_build_info{version,revision,goversion} 1 in g, unless t has
// no version.
func buildInfo(g *gaugeVec, t Tool) error {
	if t.Version == "" {
		return nil
	}
	if err := g.set(1, oneLine(t.Version), oneLine(t.Revision), oneLine(t.Go)); err != nil {
		return fmt.Errorf("building %s: %w", metricBuildInfo, err)
	}
	return nil
}

// promStatuses are the values of the status label, one series each per probe.
var promStatuses = []finding.Status{finding.Pass, finding.Warn, finding.Fail, finding.Skip}

// promFamilies holds the report as gauges:
//
//	rootless_doctor_probe_ok{id,group}               1 unless the probe fails the run (same rule as the exit code)
//	rootless_doctor_probe_status{id,group,status}    1 for the probe's status, 0 for the other three
//	rootless_doctor_probe_duration_seconds{id,group} how long the probe took
//	rootless_doctor_ok                               1 when the run passed (exit code 0)
//	rootless_doctor_info{distro,distro_version,kernel,user} 1, the host the report is about
//	rootless_doctor_build_info{version,revision,goversion} 1, the build that made it
//
// probe_status is the enum-as-labels pattern (kube-state-metrics' kube_pod_status_phase): all
// four series always exist, so `rootless_doctor_probe_status{status="fail"} == 1` alerts and
// the series never vanish when a probe changes state. Numbers-for-states would need a legend.
func promFamilies(r *Report) ([]*gaugeVec, error) {
	probeOK := newGaugeVec(metricProbeOK, helpProbeOK, "id", "group")
	status := newGaugeVec(metricProbeStatus, helpProbeStatus, "id", "group", "status")
	duration := newGaugeVec(metricProbeDuration, helpProbeDuration, "id", "group")
	ok := newGaugeVec(metricOK, helpOK)
	info := newGaugeVec(metricInfo, helpInfo, infoLabels...)
	build := newGaugeVec(metricBuildInfo, helpBuildInfo, buildInfoLabels...)
	if err := buildInfo(build, r.Tool); err != nil {
		return nil, err
	}

	for _, res := range r.Results {
		// Label values must be valid UTF-8; oneLine ensures it and keeps escape sequences out
		// of dashboards.
		id, group := oneLine(res.ID), oneLine(groupOf(res.ID))
		if err := probeOK.set(boolGauge(!r.failsRun(res)), id, group); err != nil {
			return nil, fmt.Errorf("building %s for %q: %w", metricProbeOK, id, err)
		}
		for _, st := range promStatuses {
			if err := status.set(boolGauge(statusName(res.Status) == st), id, group, string(st)); err != nil {
				return nil, fmt.Errorf("building %s for %q: %w", metricProbeStatus, id, err)
			}
		}
		if err := duration.set(res.Duration.Seconds(), id, group); err != nil {
			return nil, fmt.Errorf("building %s for %q: %w", metricProbeDuration, id, err)
		}
	}
	if err := ok.set(boolGauge(r.OK())); err != nil {
		return nil, err
	}
	if err := info.set(1, oneLine(r.Host.Distro.ID), oneLine(r.Host.Distro.VersionID),
		oneLine(r.Host.Kernel), oneLine(r.Host.User.Name)); err != nil {
		return nil, fmt.Errorf("building %s: %w", metricInfo, err)
	}
	return []*gaugeVec{probeOK, status, duration, ok, info, build}, nil
}

// renderPrometheus writes the report in the Prometheus text exposition format, e.g. for
// node_exporter's textfile collector (`check --output prometheus > /var/lib/node_exporter/
// rootless-doctor.prom.$$ && mv …`). Families and series are sorted, so it is byte-stable.
func renderPrometheus(w io.Writer, r *Report, _ Options) error {
	fams, err := promFamilies(r)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	writePromFamilies(&b, fams...)
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("writing metrics: %w", err)
	}
	return nil
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
