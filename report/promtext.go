package report

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The Prometheus text exposition format, written directly. Since issue 16 the binary no longer
// links github.com/prometheus/client_golang: a registry, its protobuf model and its
// collectors (procfs, expvar) cost every command about 1 ms of package initialisation, to
// write five gauge families. The output is byte for byte what client_golang's
// Registry.Gather and expfmt.MetricFamilyToText wrote (report/prometheus_test.go keeps
// client_golang as the reference and compares): families sorted by name, "# HELP" (with `\`
// and newline escaped), "# TYPE … gauge", then the series sorted by their label values taken
// in label-name order, label values escaped as expfmt escapes them, and the value formatted
// as expfmt formats floats. Format: https://prometheus.io/docs/instrumenting/exposition_formats/

// gaugeVec is one gauge family with fixed label names, as client_golang's GaugeVec.
type gaugeVec struct {
	name, help string
	// names are the label names sorted (client_golang sorts a series' label pairs by name);
	// perm maps a position in names to the position of that label in the declared order.
	names []string
	perm  []int
	// series holds one entry per distinct label set; index finds it by its values.
	series []promSeries
	index  map[string]int
}

// promSeries is one series: label values in names order, and its value.
type promSeries struct {
	values []string
	value  float64
}

func newGaugeVec(name, help string, labels ...string) *gaugeVec {
	g := &gaugeVec{name: name, help: help, index: map[string]int{}}
	g.names = slices.Clone(labels)
	slices.Sort(g.names)
	for _, n := range g.names {
		g.perm = append(g.perm, slices.Index(labels, n))
	}
	return g
}

// set sets the series of the label values (in declared order) to v; setting a series twice
// keeps the last value, as a gauge does. Label values must be valid UTF-8: client_golang
// refused others, and so does this.
func (g *gaugeVec) set(v float64, labelValues ...string) error {
	if len(labelValues) != len(g.names) {
		return fmt.Errorf("%s: %d label values for %d labels", g.name, len(labelValues), len(g.names))
	}
	vals := make([]string, len(g.names))
	for i, p := range g.perm {
		if !utf8.ValidString(labelValues[p]) {
			return fmt.Errorf("%s: label value %q is not valid UTF-8", g.name, labelValues[p])
		}
		vals[i] = labelValues[p]
	}
	key := strings.Join(vals, "\xff") // 0xff never occurs in valid UTF-8
	if i, ok := g.index[key]; ok {
		g.series[i].value = v
		return nil
	}
	g.index[key] = len(g.series)
	g.series = append(g.series, promSeries{values: vals, value: v})
	return nil
}

// writeSeries appends the family's series, sorted, without the HELP and TYPE lines.
func (g *gaugeVec) writeSeries(b *bytes.Buffer) {
	slices.SortFunc(g.series, func(a, c promSeries) int { return slices.Compare(a.values, c.values) })
	for _, s := range g.series {
		b.WriteString(g.name)
		for i, n := range g.names {
			if i == 0 {
				b.WriteByte('{')
			} else {
				b.WriteByte(',')
			}
			b.WriteString(n)
			b.WriteString(`="`)
			promLabelEscaper.WriteString(b, s.values[i])
			b.WriteByte('"')
		}
		if len(g.names) > 0 {
			b.WriteByte('}')
		}
		b.WriteByte(' ')
		b.WriteString(promFloat(s.value))
		b.WriteByte('\n')
	}
}

// writeHeader appends the family's HELP and TYPE lines.
func (g *gaugeVec) writeHeader(b *bytes.Buffer) {
	b.WriteString("# HELP ")
	b.WriteString(g.name)
	b.WriteByte(' ')
	promHelpEscaper.WriteString(b, g.help)
	b.WriteString("\n# TYPE ")
	b.WriteString(g.name)
	b.WriteString(" gauge\n")
}

// writePromFamilies writes the families that have series, sorted by name (Gather leaves out
// a family without series).
func writePromFamilies(b *bytes.Buffer, fams ...*gaugeVec) {
	slices.SortFunc(fams, func(a, c *gaugeVec) int { return strings.Compare(a.name, c.name) })
	for _, g := range fams {
		if len(g.series) == 0 {
			continue
		}
		g.writeHeader(b)
		g.writeSeries(b)
	}
}

var (
	promHelpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	promLabelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// promFloat formats a sample value as expfmt does.
func promFloat(f float64) string {
	switch {
	case f == 1:
		return "1"
	case f == 0:
		return "0"
	case f == -1:
		return "-1"
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, +1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// WriteTextfile writes metrics for node_exporter's textfile collector as client_golang's
// WriteToTextfile did: into a new temporary file beside name, made 0644, then renamed over
// name, so the collector never reads half a file. write fills the temporary file.
func WriteTextfile(name string, write func(*os.File) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), filepath.Base(name))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
