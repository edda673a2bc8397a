package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

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
	// The same host twice would be checked twice and, in --output prometheus, give the same
	// series twice, which the format forbids.
	seen := make(map[string]bool, len(out))
	return slices.DeleteFunc(out, func(r string) bool {
		dup := seen[r]
		seen[r] = true
		return dup
	}), nil
}

func hasMeta(p string) bool {
	for _, c := range p {
		if c == '*' || c == '?' || c == '[' {
			return true
		}
	}
	return false
}

// fleetRun checks several recorded hosts: one line (or JSON line, JSON array element, JUnit
// suite, or set of series) per host. A host that cannot be read is reported as such and the
// others still run; the exit code is 2 then, else 1 when a host failed.
//
// It streams (issue 16): GOMAXPROCS workers each read, check and render one host at a time,
// and the hosts are written in --root order as soon as each is done; nothing of a written host
// is kept but its verdict in the counts. At most fleetWindow hosts per worker are in flight,
// so memory is flat in the number of hosts.
func fleetRun(ctx context.Context, opts *CheckOptions) error {
	var counts report.FleetCounts
	var err error
	if opts.Textfile != "" {
		err = report.WriteTextfile(opts.Textfile, func(f *os.File) error {
			var werr error
			counts, werr = streamFleet(ctx, opts, f)
			return werr
		})
		if err != nil && interrupted(ctx) == nil {
			err = fmt.Errorf("writing %s: %w", opts.Textfile, err)
		}
	} else {
		counts, err = streamFleet(ctx, opts, opts.IO.Out)
	}
	if err != nil {
		return err
	}
	switch counts.ExitCode() {
	case ExitError:
		return &exitError{Code: ExitError, Err: fmt.Errorf("%d of %d hosts could not be read", counts.Unreadable, counts.Hosts)}
	case ExitFindings:
		return findings()
	}
	return nil
}

// fleetWindow is how many hosts per worker may be checked ahead of the one being written.
const fleetWindow = 4

// streamFleet checks opts.Roots on GOMAXPROCS workers and writes them, in order, to w.
func streamFleet(ctx context.Context, opts *CheckOptions, w io.Writer) (report.FleetCounts, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	fw, err := report.NewFleetWriter(opts.Output, bw, opts.Roots, report.Options{Verbose: opts.Verbose, Profile: opts.IO.OutProfile})
	if err != nil {
		return report.FleetCounts{}, err
	}
	workers := min(runtime.GOMAXPROCS(0), len(opts.Roots))
	window := max(1, workers*fleetWindow)
	// ring[i%window] carries host i from its worker to the writer; a slot is reused only
	// after the writer took its host, because at most window hosts are handed out ahead.
	ring := make([]chan *report.FleetChunk, window)
	for i := range ring {
		ring[i] = make(chan *report.FleetChunk, 1)
	}
	free := make(chan struct{}, window)
	for range window {
		free <- struct{}{}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				root := opts.Roots[i]
				rep, err := checkOne(ctx, opts, root, nil)
				var ee *exitError
				if errors.As(err, &ee) && ee.Err != nil {
					err = ee.Err
				}
				ring[i%window] <- fw.Encode(report.FleetHost{Root: root, Report: rep, Err: err})
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := range opts.Roots {
			select {
			case <-free:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	werr := func() error {
		for i := range opts.Roots {
			var c *report.FleetChunk
			select {
			case c = <-ring[i%window]:
			case <-ctx.Done():
			}
			if err := interrupted(ctx); err != nil {
				return err
			}
			if c == nil {
				return ctx.Err()
			}
			if err := fw.Write(c); err != nil {
				return fmt.Errorf("writing the report: %w", err)
			}
			free <- struct{}{}
		}
		if err := fw.Close(); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
		return nil
	}()
	cancel()
	wg.Wait()
	if werr != nil {
		fw.Abort()
		_ = bw.Flush()
		return fw.Counts(), werr
	}
	return fw.Counts(), nil
}
