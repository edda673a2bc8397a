package parse

import (
	"fmt"
	"strconv"
)

// KernelVersion is the numeric part of a kernel release ("6.8.0-31-generic" → 6.8.0).
// Semver libraries mis-order the distro suffixes (-generic, -fc, -arch1), so releases are
// compared as three integers.
type KernelVersion struct {
	Major, Minor, Patch int
	// Release is the full string it came from.
	Release string
}

// ParseKernelRelease parses uname -r: MAJOR.MINOR[.PATCH] at its start, what
// `^(\d{1,6})\.(\d{1,6})(?:\.(\d{1,9}))?` matches. It was that expression until issue 16:
// its counted repetitions compiled to ~40 instructions, a cost paid by every check for one
// match; FuzzParseKernelRelease compares the two.
func ParseKernelRelease(release string) (KernelVersion, error) {
	s := release
	n := digitRun(s, 7)
	if n == 0 || n > 6 || n == len(s) || s[n] != '.' {
		return KernelVersion{}, fmt.Errorf("kernel release %q has no MAJOR.MINOR version", release)
	}
	v := KernelVersion{Release: release}
	v.Major, _ = strconv.Atoi(s[:n])
	s = s[n+1:]
	if n = digitRun(s, 6); n == 0 {
		return KernelVersion{}, fmt.Errorf("kernel release %q has no MAJOR.MINOR version", release)
	}
	v.Minor, _ = strconv.Atoi(s[:n])
	if s = s[n:]; len(s) > 1 && s[0] == '.' {
		if n = digitRun(s[1:], 9); n > 0 {
			v.Patch, _ = strconv.Atoi(s[1 : 1+n])
		}
	}
	return v, nil
}

// digitRun is how many ASCII digits s starts with, at most max.
func digitRun(s string, max int) int {
	n := 0
	for n < len(s) && n < max && '0' <= s[n] && s[n] <= '9' {
		n++
	}
	return n
}

// AtLeast reports whether v ≥ major.minor.
func (v KernelVersion) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// String is MAJOR.MINOR.PATCH.
func (v KernelVersion) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}
