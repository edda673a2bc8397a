package parse

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// PastaDate is a passt/pasta release. passt has no semantic versions: releases are named after
// their date ("2023_12_04.b86afe3"), and distributions re-spell that date in their own
// package-version syntax. Releases compare as dates; no semver library parses them
// (the semver libraries reject "2023_12_04").
type PastaDate struct {
	Year, Month, Day int
}

// PastaMinRootlesskit is the oldest pasta RootlessKit's pasta network driver supports
// ("Needs pasta version 2023_12_04 or later", Docker's rootless docs; rootlesskit#591,
// moby/moby#47076, docker/docs#19107).
var PastaMinRootlesskit = PastaDate{2023, 12, 4}

// Before reports whether d is an earlier release than o.
func (d PastaDate) Before(o PastaDate) bool { return d.ordinal() < o.ordinal() }

func (d PastaDate) ordinal() int { return d.Year*10000 + d.Month*100 + d.Day }

// IsZero reports whether d is unset.
func (d PastaDate) IsZero() bool { return d == PastaDate{} }

// String is the upstream spelling, 2023_12_04.
func (d PastaDate) String() string {
	return fmt.Sprintf("%04d_%02d_%02d", d.Year, d.Month, d.Day)
}

// PastaVersion is what `pasta --version` says.
type PastaVersion struct {
	// Date is the release; zero when the build does not know its version.
	Date PastaDate
	// Raw is the version word(s) after "pasta" on the first line ("2023_03_09.ee7d0b6",
	// "0^20230309.gee7d0b6-1.fc38.x86_64", "unknown version").
	Raw string
}

var (
	// Upstream tags and Arch: 2023_03_09.ee7d0b6 (git describe may add -3-gabc1234).
	pastaUpstreamRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?:^|[^0-9])(\d{4})_(\d{2})_(\d{2})(?:[^0-9]|$)`) })
	// Fedora/RHEL RPM versions: 0^20230309.gee7d0b6-1.fc38.x86_64; Debian/Ubuntu package
	// versions: 0.0~git20230309.7c7625d-1.
	pastaPackedRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?:\^|~git|\+git|git)(\d{4})(\d{2})(\d{2})(?:[^0-9]|$)`)
	})
)

// ParsePastaVersion parses the first line of `pasta --version` (the rest is the licence).
// Builds made from a tarball without VERSION set print "pasta unknown version" (Debian 12's
// passt 0.0~git20230309 does): that gives a PastaVersion with a zero Date and an error
// wrapping ErrNoVersion.
func ParsePastaVersion(out []byte) (PastaVersion, error) {
	out = versionHead(out)
	line := string(out)
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	line = strings.TrimSpace(line)
	name, rest, _ := strings.Cut(line, " ")
	if name != "pasta" && name != "passt" {
		return PastaVersion{}, fmt.Errorf("pasta --version: %w (first line %q)", ErrNoVersion, finding.Clip(line, 64))
	}
	pv := PastaVersion{Raw: strings.TrimSpace(rest)}
	for _, re := range []*regexp.Regexp{pastaUpstreamRE(), pastaPackedRE()} {
		m := re.FindStringSubmatch(pv.Raw)
		if m == nil {
			continue
		}
		y, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		d, _ := strconv.Atoi(m[3])
		// passt's first release is from 2021; anything outside a calendar is not a date.
		if y < 2000 || mo < 1 || mo > 12 || d < 1 || d > 31 {
			continue
		}
		pv.Date = PastaDate{y, mo, d}
		return pv, nil
	}
	return pv, fmt.Errorf("pasta --version %q: %w", finding.Clip(pv.Raw, 64), ErrNoVersion)
}
