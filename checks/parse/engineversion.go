package parse

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// engineVersionRE matches the first line of the engines' --version output (docs/engines.md §5,
// §8): "podman version 4.3.1", "runc version 1.1.5+ds1", "Docker version 20.10.24+dfsg1, build
// 5d6db84", "containerd github.com/containerd/containerd 1.6.20~ds1 …", "buildkitd
// github.com/moby/buildkit v0.12.5 …", "tini version 0.1.7_catatonit".
var engineVersionRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?m)^(\S+) (?:version|\S+) v?([0-9]+\.[0-9]+[0-9A-Za-z.+~_-]*)`)
})

// ParseEngineVersion reads the version an engine or one of its helpers prints for --version.
// who is the first word of the line ("podman", "Docker", "containerd", "tini"), matched
// case-insensitively. The version is cut at the first character semver has no room for
// (Debian's "~ds1", catatonit's "_catatonit", a trailing comma), so "1.6.20~ds1" is 1.6.20.
// raw is the version as printed.
func ParseEngineVersion(out []byte, who string) (v *Version, raw string, err error) {
	for _, m := range engineVersionRE().FindAllSubmatch(versionHead(out), 8) {
		if !strings.EqualFold(string(m[1]), who) {
			continue
		}
		raw = strings.TrimRight(string(m[2]), ",")
		clean := raw
		if i := strings.IndexAny(clean, "~_,"); i > 0 {
			clean = clean[:i]
		}
		v, err := NewVersion(clean)
		if err != nil {
			return nil, raw, fmt.Errorf("%s version %q: %w", who, finding.Clip(raw, 64), err)
		}
		return v, raw, nil
	}
	return nil, "", fmt.Errorf("%s --version: %w", who, ErrNoVersion)
}

// PackageVersion reads a distribution package's version as semver: Debian's
// "1:4.3.1+ds1-8+deb12u1" → 4.3.1, Arch's "1.19.1-1" → 1.19.1, "2025_01_21.4f2c8e7-1" → none.
func PackageVersion(full string) (*Version, error) {
	v, err := NewVersion(DebianUpstreamVersion(full))
	if err != nil {
		return nil, fmt.Errorf("package version %q: %w", finding.Clip(full, 64), err)
	}
	return v, nil
}
