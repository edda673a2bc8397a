package report

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jstemmer/go-junit-report/v2/junit"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// Fleet is a whole fleet run held in memory. `check --root A --root B …` does not build one:
// it streams its hosts through a FleetWriter, which keeps counts only (issue 16). Fleet is
// for callers with a handful of hosts at hand (tests, benchmarks).
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

// FleetCounts is all a fleet run keeps of its hosts once they are written.
type FleetCounts struct {
	Hosts, OK, Failing, Unreadable int
}

// ExitCode is 2 when a host could not be read, else 1 when a host failed, else 0.
func (c FleetCounts) ExitCode() int {
	switch {
	case c.Unreadable > 0:
		return 2
	case c.Failing > 0:
		return 1
	}
	return 0
}

// fleetFormats are the --output formats a run over several hosts supports.
var fleetFormats = []string{"json", "jsonl", "junit", "prometheus", "text"}

// FleetFormats lists the --output formats of a run over several hosts, sorted.
func FleetFormats() []string { return slices.Clone(fleetFormats) }

// RenderFleet writes a fleet held in memory in the named format, through a FleetWriter.
func RenderFleet(format string, w io.Writer, f *Fleet, opt Options) error {
	roots := make([]string, len(f.Hosts))
	for i, h := range f.Hosts {
		roots[i] = h.Root
	}
	fw, err := NewFleetWriter(format, w, roots, opt)
	if err != nil {
		return err
	}
	for _, h := range f.Hosts {
		if err := fw.Write(fw.Encode(h)); err != nil {
			fw.Abort()
			return err
		}
	}
	return fw.Close()
}

// ExitCode is 2 when a host could not be read, else 1 when a host failed, else 0.
func (f *Fleet) ExitCode() int {
	var c FleetCounts
	for _, h := range f.Hosts {
		c.add(h)
	}
	return c.ExitCode()
}

func (c *FleetCounts) add(h FleetHost) {
	c.Hosts++
	switch {
	case h.Err != nil || h.Report == nil:
		c.Unreadable++
	case h.Report.OK():
		c.OK++
	default:
		c.Failing++
	}
}

// verdict is a FleetHost reduced to what the counts need.
func verdict(h FleetHost) FleetHost {
	v := FleetHost{Err: h.Err}
	switch {
	case h.Err == nil && h.Report == nil:
		v.Err = errNoReport
	case h.Err == nil && h.Report.OK():
		v.Report = &Report{}
	case h.Err == nil:
		v.Report = &Report{Results: []finding.Result{{Status: finding.Fail}}}
	}
	return v
}

var errNoReport = errors.New("no report")

// FleetWriter writes a fleet run one host at a time, so that a run over any number of hosts
// holds only the hosts in flight (issue 16: peak memory flat in the number of hosts). Encode
// renders a host into a FleetChunk and may run on several goroutines at once; Write appends
// the chunks, in the order the output must have; Close writes what comes after the last host.
//
// Text, JSON lines and the JSON array are written as they come. Two formats put something
// before the hosts that depends on all of them, and these go through temporary files (created
// and unlinked at once: nothing is left behind, even on a crash): JUnit's <testsuites> carries
// the totals, and the Prometheus text format wants each family's series together, so every
// family after the first is collected in a file of its own and copied out by Close.
type FleetWriter struct {
	format string
	out    io.Writer
	opt    Options
	// width is the root column's width (text): the longest root, known before any host runs.
	width  int
	counts FleetCounts
	// junit: the totals of the suites written so far.
	suites junit.Testsuites
	// spools hold what Close copies out (junit: the suites; prometheus: one file per family
	// after the first); started tells whether the first family (build_info) is out.
	spools  []*spool
	started bool
	// bufs are the buffers hosts are rendered into (text, jsonl, json), reused from host to
	// host: a worker renders into one the writer has given back.
	bufs sync.Pool
}

// getBuf is an empty buffer for one host's output.
func (fw *FleetWriter) getBuf() *[]byte {
	if p, ok := fw.bufs.Get().(*[]byte); ok {
		return p
	}
	return new([]byte)
}

// putBuf gives the chunk's buffer back for another host; the chunk must not be used again.
// A buffer that grew past 1 MiB (a host with huge evidence) is left to the collector.
func (fw *FleetWriter) putBuf(c *FleetChunk) {
	if c.buf == nil || cap(c.parts[0]) > 1<<20 {
		return
	}
	*c.buf = c.parts[0][:0]
	fw.bufs.Put(c.buf)
	c.buf, c.parts = nil, nil
}

// FleetChunk is one host, rendered: its parts (one for the output, or one per family) and
// its verdict.
type FleetChunk struct {
	host  FleetHost // verdict(host): no report, no results
	parts [][]byte
	// buf is the pooled buffer parts[0] was written into (text, jsonl, json): Write gives
	// it back once the output has the bytes.
	buf   *[]byte
	suite junit.Testsuite // junit: the suite's totals (its cases are in parts)
	err   error
}

// spool is a temporary file that is already unlinked, written through a buffer.
type spool struct {
	f *os.File
	w *bufio.Writer
	n int64
}

func newSpool() (*spool, error) {
	f, err := os.CreateTemp("", "rootless-doctor-fleet-")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary file for the fleet output: %w", err)
	}
	_ = os.Remove(f.Name())
	return &spool{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

func (s *spool) write(b []byte) error {
	n, err := s.w.Write(b)
	s.n += int64(n)
	return err
}

// copyTo writes the spool's content to w and closes it.
func (s *spool) copyTo(w io.Writer) error {
	defer s.f.Close()
	if err := s.w.Flush(); err != nil {
		return err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err := io.Copy(w, s.f)
	return err
}

// promFleetFamilies are the families of a fleet's --output prometheus, in output order (by
// name, as one host's are): each with the root label first among its labels. Durations are
// left out: a fleet run replays recordings, its timings say nothing.
var promFleetFamilies = []struct {
	name, help string
	labels     []string
}{
	{metricBuildInfo, helpBuildInfo, buildInfoLabels}, // once, from the first host with a report
	{metricInfo, helpInfo, append([]string{"root"}, infoLabels...)},
	{metricOK, helpOK, []string{"root"}},
	{metricProbeOK, helpProbeOK, []string{"root", "id", "group"}},
	{metricProbeStatus, helpProbeStatus, []string{"root", "id", "group", "status"}},
	{metricUp, helpUp, []string{"root"}},
}

// NewFleetWriter starts a fleet run in the named format, written to w. roots are the hosts'
// roots, in the order they will be written (text aligns its root column on the longest).
func NewFleetWriter(format string, w io.Writer, roots []string, opt Options) (*FleetWriter, error) {
	if !slices.Contains(fleetFormats, format) {
		return nil, fmt.Errorf("--output %s does not take several hosts (want one of %s)", format, strings.Join(fleetFormats, ", "))
	}
	fw := &FleetWriter{format: format, out: w, opt: opt, suites: junit.Testsuites{Name: junitSuite}}
	switch format {
	case "text":
		for _, r := range roots {
			fw.width = max(fw.width, len(oneLine(r)))
		}
	case "junit":
		s, err := newSpool()
		if err != nil {
			return nil, err
		}
		fw.spools = []*spool{s}
	case "prometheus":
		for range promFleetFamilies[1:] {
			s, err := newSpool()
			if err != nil {
				fw.Abort()
				return nil, err
			}
			fw.spools = append(fw.spools, s)
		}
	}
	return fw, nil
}

// Encode renders one host. It reads only the host and the writer's settings, so several
// goroutines may encode at once; the chunk keeps no reference to the report.
func (fw *FleetWriter) Encode(h FleetHost) *FleetChunk {
	c := &FleetChunk{host: verdict(h)}
	var b bytes.Buffer
	switch fw.format {
	case "text":
		c.buf = fw.getBuf()
		t := bytes.NewBuffer(*c.buf)
		fw.encodeText(t, h)
		c.parts = [][]byte{t.Bytes()}
	case "jsonl":
		c.buf = fw.getBuf()
		var p []byte
		p, c.err = appendJSONLine(*c.buf, h.Root, h.Report, h.Err, "", "")
		c.parts = [][]byte{p}
	case "json":
		c.buf = fw.getBuf()
		var p []byte
		p, c.err = appendFleetJSON(*c.buf, h)
		c.parts = [][]byte{p}
	case "junit":
		c.suite, c.err = encodeFleetSuite(&b, h)
		c.parts = [][]byte{b.Bytes()}
	case "prometheus":
		c.parts, c.err = encodeFleetProm(h)
	}
	return c
}

// Write appends one encoded host to the output.
func (fw *FleetWriter) Write(c *FleetChunk) error {
	if c.err != nil {
		return c.err
	}
	n := fw.counts.Hosts
	fw.counts.add(c.host)
	switch fw.format {
	case "text", "jsonl":
		_, err := fw.out.Write(c.parts[0])
		fw.putBuf(c)
		return err
	case "json":
		sep := ",\n  "
		if n == 0 {
			sep = "[\n  "
		}
		if _, err := io.WriteString(fw.out, sep); err != nil {
			return err
		}
		_, err := fw.out.Write(c.parts[0])
		fw.putBuf(c)
		return err
	case "junit":
		fw.suites.Tests += c.suite.Tests
		fw.suites.Errors += c.suite.Errors
		fw.suites.Failures += c.suite.Failures
		fw.suites.Skipped += c.suite.Skipped
		fw.suites.Disabled += c.suite.Disabled
		return fw.spools[0].write(c.parts[0])
	case "prometheus":
		// The first family is rootless_doctor_build_info: one series, the same for every
		// host of this run, written from the first host that has it.
		if len(c.parts[0]) > 0 && !fw.started {
			var h bytes.Buffer
			f := promFleetFamilies[0]
			newGaugeVec(f.name, f.help).writeHeader(&h)
			if _, err := fw.out.Write(h.Bytes()); err != nil {
				return err
			}
			if _, err := fw.out.Write(c.parts[0]); err != nil {
				return err
			}
			fw.started = true
		}
		for i, p := range c.parts[1:] {
			if err := fw.spools[i].write(p); err != nil {
				return fmt.Errorf("writing a temporary file for the fleet output: %w", err)
			}
		}
	}
	return nil
}

// Counts are the hosts written so far, by verdict.
func (fw *FleetWriter) Counts() FleetCounts { return fw.counts }

// Close writes what follows the last host: the summary line (text), the closing bracket
// (json), the document with its totals (junit), the collected families (prometheus).
func (fw *FleetWriter) Close() error {
	defer fw.Abort()
	c := fw.counts
	switch fw.format {
	case "text":
		_, err := fmt.Fprintf(fw.out, "%d hosts: %d ok, %d failing, %d unreadable\n", c.Hosts, c.OK, c.Failing, c.Unreadable)
		return err
	case "json":
		end := "\n]\n"
		if c.Hosts == 0 {
			end = "[]\n"
		}
		_, err := io.WriteString(fw.out, end)
		return err
	case "junit":
		return fw.closeJUnit()
	case "prometheus":
		for i, s := range fw.spools {
			if s.n == 0 {
				continue
			}
			var h bytes.Buffer
			f := promFleetFamilies[i+1]
			newGaugeVec(f.name, f.help).writeHeader(&h)
			if _, err := fw.out.Write(h.Bytes()); err != nil {
				return err
			}
			if err := s.copyTo(fw.out); err != nil {
				return fmt.Errorf("writing metrics: %w", err)
			}
		}
	}
	return nil
}

// Abort closes the writer's temporary files without writing anything more.
func (fw *FleetWriter) Abort() {
	for _, s := range fw.spools {
		s.f.Close()
	}
}

// encodeText writes one host's line, and under -v the failing and warning probes of it:
//
//	fail  fixtures/missing-subuid  debian 12, kernel 6.1.0, user alice  fail: idmap.subuid, idmap.subgid
//	ok    fixtures/fedora-41-ok    fedora 41, kernel 6.11.4, user alice  2 warnings
//	error broken.tar.gz            opening recorded host: …
func (fw *FleetWriter) encodeText(b *bytes.Buffer, h FleetHost) {
	root := oneLine(h.Root)
	pad := strings.Repeat(" ", max(0, fw.width-len(root)))
	if h.Err != nil || h.Report == nil {
		msg := errNoReport.Error()
		if h.Err != nil {
			msg = h.Err.Error()
		}
		fmt.Fprintf(b, "error %s%s  %s\n", root, pad, oneLine(msg))
		return
	}
	r := h.Report
	verdict := "ok   "
	if !r.OK() {
		verdict = "fail "
	}
	fmt.Fprintf(b, "%s %s%s  %s  %s\n", verdict, root, pad, r.Host.hostLine(), fleetFindings(r))
	if !fw.opt.Verbose {
		return
	}
	// -v: each failing and warning probe as the single-host report shows it, indented under
	// the host line.
	line := func(parts ...string) {
		b.WriteString(strings.TrimRight(strings.Join(parts, ""), " "))
		b.WriteByte('\n')
	}
	for _, res := range r.Results {
		st := statusName(res.Status)
		if st != finding.Fail && st != finding.Warn {
			continue
		}
		line(fleetIndent, symbol(st), " ", oneLine(res.ID), "  ", oneLine(res.Summary))
		for _, l := range body(res) {
			line(fleetIndent, detailIndent, l)
		}
	}
}

// fleetIndent indents the -v lines of a fleet's text under the host line's root column.
const fleetIndent = "      "

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

// jsonlReport is one line of --output jsonl, and one element of a fleet's --output json: the
// report of --output json (schema rootless-doctor/v1) with the root it came from, or the
// error that kept it from being read.
type jsonlReport struct {
	Root  string `json:"root,omitempty"`
	Error string `json:"error,omitempty"`
	*jsonReport
}

func newJSONL(root string, r *Report, err error) jsonlReport {
	line := jsonlHead(root, r, err)
	if line.jsonReport != nil {
		jr := toJSON(r)
		line.jsonReport = &jr
	}
	return line
}

// jsonlHead is newJSONL without the report's results (jsonHead), which the JSON writer
// converts as it writes them.
func jsonlHead(root string, r *Report, err error) jsonlReport {
	line := jsonlReport{Root: root}
	switch {
	case err != nil:
		line.Error = err.Error()
	case r == nil:
		line.Error = errNoReport.Error()
	default:
		head := jsonHead(r)
		line.jsonReport = &head
	}
	return line
}

// appendJSONLine appends one line of --output jsonl (newline included) to dst, or, indented by
// prefix and indent, one element of a fleet's --output json.
func appendJSONLine(dst []byte, root string, r *Report, err error, prefix, indent string) ([]byte, error) {
	line := jsonlHead(root, r, err)
	if b, ok := appendJSONL(dst, &line, r, prefix, indent); ok {
		return b, nil
	}
	b := bytes.NewBuffer(dst)
	if err := encodeJSON(b, newJSONL(root, r, err), prefix, indent); err != nil {
		return dst, err
	}
	return b.Bytes(), nil
}

// renderJSONL is --output jsonl for one host: the JSON report on one line.
func renderJSONL(w io.Writer, r *Report, _ Options) error {
	b, err := appendJSONLine(nil, "", r, nil, "", "")
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// appendFleetJSON appends one element of a fleet's --output json, a JSON array of the jsonl
// objects laid out as json.MarshalIndent lays out the whole array (two spaces), without the
// separator before it (Write adds "[" or ",") and without a final newline.
func appendFleetJSON(dst []byte, h FleetHost) ([]byte, error) {
	b, err := appendJSONLine(dst, h.Root, h.Report, h.Err, "  ", "  ")
	if err != nil {
		return dst, err
	}
	return b[:len(b)-1], nil // the newline after the value
}

// encodeFleetSuite writes one host's testsuite (one per host, named by its root, so a CI job
// shows each image or host as a group; a host that could not be read is a suite with one
// error case) as it appears inside <testsuites>: a newline, then the suite indented by one
// tab, as junit.Testsuites.WriteXML indents the whole document. It returns the suite without
// its cases, for the totals.
func encodeFleetSuite(b *bytes.Buffer, h FleetHost) (junit.Testsuite, error) {
	var s junit.Testsuite
	if h.Err != nil || h.Report == nil {
		msg := errNoReport.Error()
		if h.Err != nil {
			msg = h.Err.Error()
		}
		s = junit.Testsuite{Name: oneLine(h.Root)}
		s.AddTestcase(junit.Testcase{Name: "open", Classname: "host", Error: &junit.Result{Message: oneLine(msg)}})
	} else {
		s = junitSuiteOf(h.Report)
		s.Name = oneLine(h.Root)
	}
	b.WriteByte('\n')
	enc := xml.NewEncoder(b)
	enc.Indent("\t", "\t")
	if err := enc.EncodeElement(s, xml.StartElement{Name: xml.Name{Local: "testsuite"}}); err != nil {
		return s, fmt.Errorf("writing junit xml: %w", err)
	}
	if err := enc.Flush(); err != nil {
		return s, fmt.Errorf("writing junit xml: %w", err)
	}
	s.Testcases, s.Properties = nil, nil
	return s, nil
}

// closeJUnit writes the document: the XML header, <testsuites> with the totals, the suites
// from the spool, the end tag; as junit.Testsuites.WriteXML wrote a whole fleet at once.
func (fw *FleetWriter) closeJUnit() error {
	var head bytes.Buffer
	head.WriteString(xml.Header)
	enc := xml.NewEncoder(&head)
	if err := enc.Encode(fw.suites); err != nil {
		return fmt.Errorf("writing junit xml: %w", err)
	}
	start, ok := bytes.CutSuffix(head.Bytes(), []byte("</testsuites>"))
	if !ok {
		return fmt.Errorf("writing junit xml: unexpected <testsuites> encoding %q", head.String())
	}
	if _, err := fw.out.Write(start); err != nil {
		return err
	}
	if err := fw.spools[0].copyTo(fw.out); err != nil {
		return fmt.Errorf("writing junit xml: %w", err)
	}
	sep := "\n"
	if fw.counts.Hosts == 0 {
		sep = ""
	}
	_, err := io.WriteString(fw.out, sep+"</testsuites>\n")
	return err
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

// encodeFleetProm renders one host's series of each fleet family (promFleetFamilies order),
// sorted within the host as a registry sorts them; rootless_doctor_up{root} is 0 when the host
// could not be read. Across hosts the series come in the order of the hosts: sorting a family
// over the whole fleet would hold every host's series in memory, and the format asks only
// that a family's series be together.
func encodeFleetProm(h FleetHost) ([][]byte, error) {
	fams := make([]*gaugeVec, len(promFleetFamilies))
	for i, f := range promFleetFamilies {
		fams[i] = newGaugeVec(f.name, f.help, f.labels...)
	}
	build, info, ok, probeOK, status, up := fams[0], fams[1], fams[2], fams[3], fams[4], fams[5]
	root := oneLine(h.Root)
	var err error
	set := func(g *gaugeVec, v float64, labels ...string) {
		if e := g.set(v, labels...); e != nil && err == nil {
			err = e
		}
	}
	if h.Err != nil || h.Report == nil {
		set(up, 0, root)
		set(ok, 0, root)
	} else {
		r := h.Report
		if e := buildInfo(build, r.Tool); e != nil {
			return nil, e
		}
		set(up, 1, root)
		set(ok, boolGauge(r.OK()), root)
		set(info, 1, root, oneLine(r.Host.Distro.ID), oneLine(r.Host.Distro.VersionID), oneLine(r.Host.Kernel), oneLine(r.Host.User.Name))
		for _, res := range r.Results {
			id, group := oneLine(res.ID), oneLine(groupOf(res.ID))
			set(probeOK, boolGauge(!r.failsRun(res)), root, id, group)
			for _, st := range promStatuses {
				set(status, boolGauge(statusName(res.Status) == st), root, id, group, string(st))
			}
		}
	}
	if err != nil {
		return nil, err
	}
	parts := make([][]byte, len(fams))
	for i, g := range fams {
		var b bytes.Buffer
		g.writeSeries(&b)
		parts[i] = b.Bytes()
	}
	return parts, nil
}
