package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rootless-doctor/rootless-doctor/report"
)

// expandRoots expands a --root that does not exist as named but is a glob pattern
// ("snapshots/*.tar.gz"), so a fleet is one flag; an existing path is taken as it is.
func expandRoots(roots []string) ([]string, error) {
	var out []string
	for _, r := range roots {
		if _, err := os.Lstat(r); err == nil || !hasMeta(r) {
			out = append(out, r)
			continue
		}
		// "snaps/*/" matches directories only, as in a shell.
		dirsOnly := strings.HasSuffix(r, "/")
		matches, err := filepath.Glob(strings.TrimRight(r, "/"))
		if err != nil {
			return nil, fmt.Errorf("--root %q: %w", r, err)
		}
		if dirsOnly {
			matches = slices.DeleteFunc(matches, func(m string) bool {
				st, err := os.Stat(m)
				return err != nil || !st.IsDir()
			})
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("--root %q: %w", r, fs.ErrNotExist)
		}
		out = append(out, matches...)
	}
	return out, nil
}

func hasMeta(p string) bool {
	for _, c := range p {
		if c == '*' || c == '?' || c == '[' {
			return true
		}
	}
	return false
}

// fleetRun checks several recorded hosts: one line (or JSON line, or JUnit suite, or set of
// series) per host. A host that cannot be read is reported as such and the others still run;
// the exit code is 2 then, else 1 when a host failed.
func fleetRun(ctx context.Context, opts *CheckOptions) error {
	fleet := &report.Fleet{}
	for _, root := range opts.Roots {
		if err := interrupted(ctx); err != nil {
			return err
		}
		rep, err := checkOne(ctx, opts, root, nil)
		var ee *exitError
		if errors.As(err, &ee) && ee.Err != nil {
			err = ee.Err
		}
		fleet.Hosts = append(fleet.Hosts, report.FleetHost{Root: root, Report: rep, Err: err})
	}
	if opts.Textfile != "" {
		reg, err := report.FleetRegistry(fleet)
		if err != nil {
			return err
		}
		if err := prometheus.WriteToTextfile(opts.Textfile, reg); err != nil {
			return fmt.Errorf("writing %s: %w", opts.Textfile, err)
		}
	} else if err := report.RenderFleet(opts.Output, opts.IO.Out, fleet, report.Options{Verbose: opts.Verbose, Profile: opts.IO.OutProfile}); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	switch fleet.ExitCode() {
	case ExitError:
		n := 0
		for _, h := range fleet.Hosts {
			if h.Err != nil {
				n++
			}
		}
		return &exitError{Code: ExitError, Err: fmt.Errorf("%d of %d hosts could not be read", n, len(fleet.Hosts))}
	case ExitFindings:
		return findings()
	}
	return nil
}
