package parse

import (
	"testing"

	"github.com/Masterminds/semver/v3"
)

// versionSeeds are versions tools print, and the edge cases of the grammar.
var versionSeeds = []string{
	"1.2.3", "v1.2.3", "1.2", "1", "v0.4.0", "1.2.0+dev", "1.3.0-beta.1", "0.4.0-beta.1", "01.02.03",
	"1.2.3-rc.1+build.5", "1.2.3-0.3.7", "1.2.3-x.7.z.92", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
	"1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "2.3.6", "5.0.2", "1.2.3--", "1.2.3-a-b+c-d",
	"", "v", "V1.2.3", "1.", "1..2", "1.2.3.4", "1.2.3-", "1.2.3+", "1.2.3-01", "1.2.3-a..b", "1.2.3+a+b",
	"1.2.3-é", " 1.2.3", "1.2.3 ", "18446744073709551615.0.0", "18446744073709551616", "1.2.3-99999999999999999999",
	"1.2.3-1.2.a", "1.2.3-00a", "4.9.3+ds1-1", "20.10.24+dfsg1",
}

// TestVersionMatchesMasterminds: NewVersion accepts and refuses what semver.NewVersion does
// (Masterminds/semver v3, which the probes used before issue 16), with the same numbers,
// pre-release, metadata and canonical string, and Compare orders every pair the same way.
func TestVersionMatchesMasterminds(t *testing.T) {
	for _, s := range versionSeeds {
		checkVersionAgainstMasterminds(t, s)
	}
	for _, a := range versionSeeds {
		for _, b := range versionSeeds {
			checkCompareAgainstMasterminds(t, a, b)
		}
	}
}

func FuzzVersion(f *testing.F) {
	for _, s := range versionSeeds {
		f.Add(s, "1.0.0-rc.1")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		checkVersionAgainstMasterminds(t, a)
		checkCompareAgainstMasterminds(t, a, b)
	})
}

func checkVersionAgainstMasterminds(t *testing.T, s string) {
	t.Helper()
	want, werr := semver.NewVersion(s)
	got, gerr := NewVersion(s)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("NewVersion(%q): error %v, Masterminds %v", s, gerr, werr)
	}
	if werr != nil {
		return
	}
	if got.String() != want.String() || got.Major() != want.Major() || got.Minor() != want.Minor() ||
		got.Patch() != want.Patch() || got.Prerelease() != want.Prerelease() || got.Metadata() != want.Metadata() ||
		got.Original() != want.Original() {
		t.Fatalf("NewVersion(%q) = %s, Masterminds %s", s, got, want)
	}
}

func checkCompareAgainstMasterminds(t *testing.T, a, b string) {
	t.Helper()
	va, err1 := NewVersion(a)
	vb, err2 := NewVersion(b)
	if err1 != nil || err2 != nil {
		return
	}
	if got, want := va.Compare(vb), semver.MustParse(a).Compare(semver.MustParse(b)); got != want {
		t.Fatalf("Compare(%q, %q) = %d, Masterminds %d", a, b, got, want)
	}
	if va.LessThan(vb) != (va.Compare(vb) < 0) || va.GreaterThan(vb) != (va.Compare(vb) > 0) || va.Equal(vb) != (va.Compare(vb) == 0) {
		t.Fatalf("LessThan/GreaterThan/Equal disagree with Compare for %q, %q", a, b)
	}
}
