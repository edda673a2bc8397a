package parse

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// Slirp4netnsMin is the oldest slirp4netns RootlessKit accepts: v0.4.0 added --netns-type,
// which RootlessKit ≥ 0.7.1 passes (rootlesskit pkg/network/slirp4netns DetectFeatures,
// dockerd-rootless.sh; moby/moby#40931, moby/moby#41781).
var Slirp4netnsMin = MustVersion("0.4.0")

// Slirp4netnsVersion is what `slirp4netns --version` prints:
//
//	slirp4netns version 1.2.0
//	commit: 656041d45cfca7a4176f6b7eed9e4fe6c11e8383
//	libslirp: 4.7.0
//	SLIRP_CONFIG_VERSION_MAX: 4
//	libseccomp: 2.5.4
type Slirp4netnsVersion struct {
	// Version is the slirp4netns version ("1.2.0", possibly with a pre-release "1.3.0-beta.1").
	Version *Version
	// Raw is the version text as printed.
	Raw string
	// Commit and Libslirp are the other lines, empty when absent (versions before 0.4 print
	// only the first line).
	Commit   string
	Libslirp string
}

// ErrNoVersion is returned when a tool's output holds no version a parser recognises.
var ErrNoVersion = errors.New("no version in the output")

var slirpVersionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^slirp4netns version v?(\S+)`) })

// ParseSlirp4netnsVersion parses the output of `slirp4netns --version`.
func ParseSlirp4netnsVersion(out []byte) (Slirp4netnsVersion, error) {
	out = versionHead(out)
	m := slirpVersionRE().FindSubmatch(out)
	if m == nil {
		return Slirp4netnsVersion{}, fmt.Errorf("slirp4netns --version: %w", ErrNoVersion)
	}
	raw := string(m[1])
	// A git build prints "1.2.0+dev"; semver keeps "+dev" as build metadata, which Compare ignores.
	v, err := NewVersion(raw)
	if err != nil {
		return Slirp4netnsVersion{}, fmt.Errorf("slirp4netns version %q: %w", finding.Clip(raw, 64), err)
	}
	sv := Slirp4netnsVersion{Version: v, Raw: raw}
	for line := range strings.Lines(string(out)) {
		k, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "commit":
			sv.Commit = strings.TrimSpace(val)
		case "libslirp":
			sv.Libslirp = strings.TrimSpace(val)
		}
	}
	return sv, nil
}

// AtLeast reports whether v ≥ min by semver precedence. It compares versions directly, not
// through a range constraint: in the usual constraint semantics ">= 0.4.0" never matches a
// pre-release ("1.3.0-beta.1" fails it), which would call a new slirp4netns too old
// (https://github.com/Masterminds/semver#checking-version-constraints). A pre-release of min
// itself ("0.4.0-beta.1") is below min; callers settle that case with --help, as RootlessKit
// does.
func (v Slirp4netnsVersion) AtLeast(min *Version) bool {
	return v.Version != nil && min != nil && v.Version.Compare(min) >= 0
}

// Slirp4netnsHasNetnsType reports whether `slirp4netns --help` lists --netns-type, the feature
// test RootlessKit's DetectFeatures and dockerd-rootless.sh use for "v0.4.0 or later".
func Slirp4netnsHasNetnsType(help []byte) bool {
	for line := range bytes.Lines(help) {
		for _, f := range strings.FieldsFunc(string(line), func(r rune) bool {
			return r == ' ' || r == '\t' || r == ',' || r == '='
		}) {
			if f == "--netns-type" {
				return true
			}
		}
	}
	return false
}
