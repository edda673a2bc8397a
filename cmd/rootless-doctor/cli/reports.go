package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/report"
	"github.com/rootless-doctor/rootless-doctor/runtime/proof"
)

// ReportFlags are the flags check and prove share: the printed format, the extra reports, how
// a run is judged, and the live proof's time limit.
type ReportFlags struct {
	Output string
	// Reports are the --report FORMAT=FILE values, parsed into reports by validate.
	Reports []string
	FailOn  string
	Verbose bool
	Ignore  []string
	Timeout time.Duration

	reports []reportFile
}

// reportFile is one --report: a format written to a file beside the printed report.
type reportFile struct {
	Format, Path string
}

// addReportFlags defines the shared flags; what names the command's results ("probe", "step").
func (r *ReportFlags) addReportFlags(fl *pflag.FlagSet, what string) {
	fl.StringVarP(&r.Output, "output", "o", "text", "output format: "+strings.Join(report.Formats(), "|")+" (any case)")
	fl.StringArrayVar(&r.Reports, "report", nil, "also write the report in FORMAT to FILE (repeatable, any format):\n--report junit=rootless.xml --report json=rootless.json")
	fl.StringVar(&r.FailOn, "fail-on", "fail", "exit 1 when a "+what+" reaches this status: fail|warn")
	fl.BoolVarP(&r.Verbose, "verbose", "v", false, "show details, evidence and fixes under each "+what)
	fl.StringSliceVar(&r.Ignore, "ignore", nil, "waive these ids or groups (comma-separated): still shown, marked ignored,\nbut they do not fail the run")
	fl.DurationVar(&r.Timeout, "timeout", proof.DefaultTimeout, "give up on the live proof after this long (more than 0; a hung network driver\nis stopped after a third of it)")
}

// validate checks and normalizes the shared flags.
func (r *ReportFlags) validate(f *Factory) error {
	var err error
	if r.Output, err = oneOf("--output", r.Output, report.Formats()); err != nil {
		return err
	}
	if r.FailOn, err = oneOf("--fail-on", r.FailOn, []string{"fail", "warn"}); err != nil {
		return err
	}
	if r.Ignore, err = checkWaivers(f, r.Timeout, r.Ignore); err != nil {
		return err
	}
	r.reports = nil
	for _, v := range r.Reports {
		format, path, ok := strings.Cut(v, "=")
		if !ok || path == "" {
			return usageErr("--report %q: want FORMAT=FILE, e.g. junit=rootless.xml (formats: %s)", v, strings.Join(report.Formats(), ", "))
		}
		if format, err = oneOf("--report", format, report.Formats()); err != nil {
			return err
		}
		if slices.ContainsFunc(r.reports, func(o reportFile) bool { return filepath.Clean(o.Path) == filepath.Clean(path) }) {
			return usageErr("--report: %s is named twice", path)
		}
		r.reports = append(r.reports, reportFile{Format: format, Path: path})
	}
	return nil
}

// checkWaivers checks --timeout (above 0: 0 used to mean "the default" in the proof, silently)
// and --ignore (known ids or groups), and returns the --ignore list split.
func checkWaivers(f *Factory, timeout time.Duration, ignore []string) ([]string, error) {
	if timeout <= 0 {
		return nil, usageErr("--timeout %s: want a duration above 0 (default %s)", timeout, proof.DefaultTimeout)
	}
	ignore = splitList(ignore)
	return ignore, checkIDs(f, "--ignore", ignore)
}

// newReport is report.New with the tool's build information.
func newReport(f *Factory, env *facts.Env, results []finding.Result, failOn string, notes ...string) *report.Report {
	rep := report.New(env, results, finding.Status(failOn), notes...)
	rep.Tool = f.tool()
	return rep
}

// writeReports writes every --report file: each rendered whole in memory, then written
// atomically (writeFileAtomic), plain (no colour). The first error is returned, naming the
// file; the others are still written.
func (r *ReportFlags) writeReports(rep *report.Report) error {
	var errs []error
	for _, rf := range r.reports {
		var b bytes.Buffer
		err := report.Render(rf.Format, &b, rep, report.Options{Verbose: r.Verbose, Timings: true})
		if err == nil {
			err = writeFileAtomic(rf.Path, b.Bytes())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("--report %s=%s: %w", rf.Format, rf.Path, err))
		}
	}
	return errors.Join(errs...)
}

// writeFileAtomic writes data to path through a temporary file in the same directory, renamed
// over it (node_exporter's textfile collector, and a CI reading a report, never see half a
// file). Errors name path, not the temporary file (issue 15: the --textfile error showed
// client_golang's temporary name).
func writeFileAtomic(path string, data []byte) error {
	fail := func(err error) error {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fail(err)
	}
	// 0644 as client_golang's WriteToTextfile leaves it (CreateTemp makes 0600).
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fail(err)
	}
	return nil
}
