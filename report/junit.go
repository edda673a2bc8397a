package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jstemmer/go-junit-report/v2/junit"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// junitSuite is the name of the one testsuite; CI systems show it as the job's test group.
const junitSuite = "rootless-doctor"

// renderJUnit writes one testsuite with one testcase per probe (classname = group, name = id)
// for CI systems (GitLab, Jenkins, GitHub test reporters):
//
//   - fail is a <failure type="fail">, message = the summary, body = details, evidence, fixes;
//   - warn passes (its text in <system-out>), unless the run fails on warnings (--fail-on warn):
//     then it is a <failure type="warn">, so the CI report agrees with the exit code;
//   - skip is <skipped> with the reason; pass carries its summary and evidence in <system-out>.
//
// Every string is cleaned first: an ESC or other control character inside CDATA or an
// attribute makes the whole document invalid XML (verified with go-junit-report v2.1.0), and
// CI would then drop the report. The output has no timestamp, so it is byte-stable.
func renderJUnit(w io.Writer, r *Report, _ Options) error {
	suite := junitSuiteOf(r)
	if len(r.Notes) > 0 {
		notes := make([]string, len(r.Notes))
		for i, n := range r.Notes {
			notes[i] = oneLine(n)
		}
		suite.SystemOut = &junit.Output{Data: strings.Join(notes, "\n")}
	}

	suites := junit.Testsuites{Name: junitSuite}
	suites.AddSuite(suite)
	suites.Time = suite.Time
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	if err := suites.WriteXML(w); err != nil {
		return fmt.Errorf("writing junit xml: %w", err)
	}
	return nil
}

func junitCase(r *Report, group string, res finding.Result) junit.Testcase {
	st := statusName(res.Status)
	tc := junit.Testcase{
		Name:      oneLine(res.ID),
		Classname: oneLine(group),
		Time:      seconds(res.Duration),
		Status:    string(st),
	}
	summary := oneLine(res.Summary)
	text := strings.Join(body(res), "\n")
	switch {
	case st == finding.Skip:
		tc.Skipped = &junit.Result{Message: summary}
	case r.failsRun(res):
		tc.Failure = &junit.Result{Message: summary, Type: string(st), Data: text}
	default:
		out := summary
		if st == finding.Warn {
			out = "warning: " + summary
		}
		if res.Ignored && st != finding.Pass {
			out = "ignored with --ignore (" + string(st) + "): " + summary
		}
		if text != "" {
			out += "\n" + text
		}
		tc.SystemOut = &junit.Output{Data: out}
	}
	return tc
}

// addToolProperties names the program that made the suite: tool.name, tool.version,
// tool.revision and tool.go, beside the host's properties (docs/cli.md).
func addToolProperties(s *junit.Testsuite, t Tool) {
	if t.Version == "" {
		return
	}
	s.AddProperty("tool.name", oneLine(t.Name))
	s.AddProperty("tool.version", oneLine(t.Version))
	if t.Revision != "" {
		s.AddProperty("tool.revision", oneLine(t.Revision))
	}
	if t.Go != "" {
		s.AddProperty("tool.go", oneLine(t.Go))
	}
}

// seconds is the JUnit time format (go-junit-report's own: seconds, three decimals).
func seconds(d time.Duration) string {
	return fmt.Sprintf("%.3f", d.Seconds())
}
