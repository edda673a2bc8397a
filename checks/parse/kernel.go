package parse

import (
	"fmt"
	"regexp"
	"strconv"
	"sync"
)

// KernelVersion is the numeric part of a kernel release ("6.8.0-31-generic" → 6.8.0).
// Semver libraries mis-order the distro suffixes (-generic, -fc, -arch1), so releases are
// compared as three integers.
type KernelVersion struct {
	Major, Minor, Patch int
	// Release is the full string it came from.
	Release string
}

var kernelRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\d{1,6})\.(\d{1,6})(?:\.(\d{1,9}))?`) })

// ParseKernelRelease parses uname -r.
func ParseKernelRelease(release string) (KernelVersion, error) {
	m := kernelRE().FindStringSubmatch(release)
	if m == nil {
		return KernelVersion{}, fmt.Errorf("kernel release %q has no MAJOR.MINOR version", release)
	}
	v := KernelVersion{Release: release}
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		v.Patch, _ = strconv.Atoi(m[3])
	}
	return v, nil
}

// AtLeast reports whether v ≥ major.minor.
func (v KernelVersion) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// String is MAJOR.MINOR.PATCH.
func (v KernelVersion) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}
