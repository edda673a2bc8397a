package parse

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version is a semantic version read leniently, as github.com/Masterminds/semver/v3's
// NewVersion reads one ("v1.2", "1", "1.2.3-rc.1+git"): major, minor and patch (missing ones
// are 0), a pre-release and build metadata. Precedence is semver's
// (https://semver.org/#spec-item-11): build metadata is ignored, a pre-release sorts before
// its release, and numeric pre-release identifiers compare as numbers.
//
// Since issue 16 this replaces Masterminds/semver, of which the probes used NewVersion and
// Compare: the package compiles two regular expressions at init, about 0.3–0.5 ms at every
// start of the binary. checks/parse/version_test.go compares the two on fuzzed input.
type Version struct {
	major, minor, patch uint64
	pre, metadata       string
	original            string
}

// ErrInvalidVersion is returned for text that is not a version.
var ErrInvalidVersion = errors.New("invalid semantic version")

// maxVersionLen bounds a version string, as Masterminds/semver's MaxVersionLen.
const maxVersionLen = 256

// NewVersion parses v: an optional "v", one to three dot-separated decimal numbers, then
// optionally "-" and a pre-release and "+" and build metadata, each dot-separated identifiers
// of [0-9A-Za-z-]; a numeric pre-release identifier must not have a leading zero.
func NewVersion(v string) (*Version, error) {
	if len(v) > maxVersionLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidVersion, maxVersionLen)
	}
	sv := &Version{original: v}
	rest := strings.TrimPrefix(v, "v")
	var nums [3]uint64
	for i := range nums {
		if i > 0 {
			var ok bool
			if rest, ok = strings.CutPrefix(rest, "."); !ok {
				break
			}
		}
		n := 0
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 0 {
			return nil, ErrInvalidVersion
		}
		x, err := strconv.ParseUint(rest[:n], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("error parsing version segment: %w", err)
		}
		nums[i], rest = x, rest[n:]
	}
	sv.major, sv.minor, sv.patch = nums[0], nums[1], nums[2]
	if r, ok := strings.CutPrefix(rest, "-"); ok {
		sv.pre, rest = r, ""
		if i := strings.IndexByte(r, '+'); i >= 0 {
			sv.pre, rest = r[:i], r[i:]
		}
		if !identifiers(sv.pre) {
			return nil, ErrInvalidVersion
		}
	}
	if r, ok := strings.CutPrefix(rest, "+"); ok {
		sv.metadata, rest = r, ""
		if !identifiers(sv.metadata) {
			return nil, ErrInvalidVersion
		}
	}
	if rest != "" {
		return nil, ErrInvalidVersion
	}
	for _, id := range strings.Split(sv.pre, ".") {
		if sv.pre != "" && len(id) > 1 && id[0] == '0' && numeric(id) {
			return nil, fmt.Errorf("%w: pre-release identifier %q starts with 0", ErrInvalidVersion, id)
		}
	}
	return sv, nil
}

// MustVersion is NewVersion for constants; it panics on an error.
func MustVersion(v string) *Version {
	sv, err := NewVersion(v)
	if err != nil {
		panic(err)
	}
	return sv
}

// identifiers reports whether s is one or more dot-separated non-empty identifiers of
// [0-9A-Za-z-].
func identifiers(s string) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		for i := 0; i < len(id); i++ {
			c := id[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
		}
	}
	return true
}

func numeric(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Major, Minor and Patch are the version's numbers; Prerelease and Metadata the parts after
// "-" and "+" ("" when absent).
func (v *Version) Major() uint64      { return v.major }
func (v *Version) Minor() uint64      { return v.minor }
func (v *Version) Patch() uint64      { return v.patch }
func (v *Version) Prerelease() string { return v.pre }
func (v *Version) Metadata() string   { return v.metadata }

// Original is the text the version was parsed from.
func (v *Version) Original() string { return v.original }

// String is the version in canonical form, "1.2.0-rc.1+git": without a "v", with all three
// numbers.
func (v *Version) String() string {
	s := strconv.FormatUint(v.major, 10) + "." + strconv.FormatUint(v.minor, 10) + "." + strconv.FormatUint(v.patch, 10)
	if v.pre != "" {
		s += "-" + v.pre
	}
	if v.metadata != "" {
		s += "+" + v.metadata
	}
	return s
}

// Compare returns -1, 0 or 1 as v sorts before, with or after o by semver precedence.
func (v *Version) Compare(o *Version) int {
	for _, d := range [3][2]uint64{{v.major, o.major}, {v.minor, o.minor}, {v.patch, o.patch}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case v.pre == o.pre:
		return 0
	case v.pre == "":
		return 1
	case o.pre == "":
		return -1
	}
	a, b := strings.Split(v.pre, "."), strings.Split(o.pre, ".")
	for i := range max(len(a), len(b)) {
		switch {
		case i >= len(a):
			return -1
		case i >= len(b):
			return 1
		}
		if d := comparePreID(a[i], b[i]); d != 0 {
			return d
		}
	}
	return 0
}

// comparePreID compares two pre-release identifiers: numbers as numbers, below words; words
// in ASCII order.
func comparePreID(a, b string) int {
	if a == b {
		return 0
	}
	an, aerr := strconv.ParseUint(a, 10, 64)
	bn, berr := strconv.ParseUint(b, 10, 64)
	switch {
	case aerr != nil && berr != nil:
		return strings.Compare(a, b)
	case aerr != nil:
		return 1
	case berr != nil:
		return -1
	case an < bn:
		return -1
	case an > bn:
		return 1
	}
	return 0
}

// LessThan, GreaterThan and Equal compare by precedence (Compare).
func (v *Version) LessThan(o *Version) bool    { return v.Compare(o) < 0 }
func (v *Version) GreaterThan(o *Version) bool { return v.Compare(o) > 0 }
func (v *Version) Equal(o *Version) bool       { return v.Compare(o) == 0 }
