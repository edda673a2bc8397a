package report

import (
	"fmt"
	"io"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

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
	metricBuildInfo     = "rootless_doctor_build_info"
)

// infoLabels are the labels of rootless_doctor_info. The distribution's version is
// distro_version: until issue 15 it was "version", which read as the tool's version (now in
// rootless_doctor_build_info) — the one renamed label of the contract (docs/cli.md).
var infoLabels = []string{"distro", "distro_version", "kernel", "user"}

// buildInfo registers rootless_doctor_build_info{version,revision,goversion} 1, the labels of
// the *_build_info convention (prometheus/common's version collector), unless t has no version.
func buildInfo(reg *prometheus.Registry, t Tool) error {
	if t.Version == "" {
		return nil
	}
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: metricBuildInfo,
		Help: "The rootless-doctor build that made the report; always 1.",
	}, []string{"version", "revision", "goversion"})
	if err := reg.Register(g); err != nil {
		return err
	}
	m, err := g.GetMetricWithLabelValues(oneLine(t.Version), oneLine(t.Revision), oneLine(t.Go))
	if err != nil {
		return fmt.Errorf("building %s: %w", metricBuildInfo, err)
	}
	m.Set(1)
	return nil
}

// promStatuses are the values of the status label, one series each per probe.
var promStatuses = []finding.Status{finding.Pass, finding.Warn, finding.Fail, finding.Skip}

// promRegistry builds a private registry holding the report as gauges (a private registry keeps
// the Go and process collectors of the default one out of the output):
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
func promRegistry(r *Report) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	probeOK := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: metricProbeOK,
		Help: "Whether the probe passed: 1 unless its status fails the run (fail, or warn with --fail-on warn).",
	}, []string{"id", "group"})
	status := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: metricProbeStatus,
		Help: "The probe's status: 1 for the current status (pass, warn, fail or skip), 0 for the others.",
	}, []string{"id", "group", "status"})
	duration := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: metricProbeDuration,
		Help: "How long the probe took, in seconds.",
	}, []string{"id", "group"})
	ok := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: metricOK,
		Help: "Whether the run passed: 1 when nothing failed (with --fail-on warn, nothing warned either).",
	})
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: metricInfo,
		Help: "The host and account the report is about; always 1.",
	}, infoLabels)
	reg.MustRegister(probeOK, status, duration, ok, info)
	if err := buildInfo(reg, r.Tool); err != nil {
		return nil, err
	}

	for _, res := range r.Results {
		// Label values must be valid UTF-8 (client_golang refuses others); oneLine ensures it
		// and keeps escape sequences out of dashboards.
		id, group := oneLine(res.ID), oneLine(groupOf(res.ID))
		g, err := probeOK.GetMetricWithLabelValues(id, group)
		if err != nil {
			return nil, fmt.Errorf("building %s for %q: %w", metricProbeOK, id, err)
		}
		g.Set(boolGauge(!r.failsRun(res)))
		for _, st := range promStatuses {
			g, err := status.GetMetricWithLabelValues(id, group, string(st))
			if err != nil {
				return nil, fmt.Errorf("building %s for %q: %w", metricProbeStatus, id, err)
			}
			g.Set(boolGauge(statusName(res.Status) == st))
		}
		g, err = duration.GetMetricWithLabelValues(id, group)
		if err != nil {
			return nil, fmt.Errorf("building %s for %q: %w", metricProbeDuration, id, err)
		}
		g.Set(res.Duration.Seconds())
	}
	ok.Set(boolGauge(r.OK()))
	g, err := info.GetMetricWithLabelValues(oneLine(r.Host.Distro.ID), oneLine(r.Host.Distro.VersionID),
		oneLine(r.Host.Kernel), oneLine(r.Host.User.Name))
	if err != nil {
		return nil, fmt.Errorf("building %s: %w", metricInfo, err)
	}
	g.Set(1)
	return reg, nil
}

// renderPrometheus writes the report in the Prometheus text exposition format, e.g. for
// node_exporter's textfile collector (`check --output prometheus > /var/lib/node_exporter/
// rootless-doctor.prom.$$ && mv …`). Gather sorts families and series, so it is byte-stable.
func renderPrometheus(w io.Writer, r *Report, _ Options) error {
	reg, err := promRegistry(r)
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

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
