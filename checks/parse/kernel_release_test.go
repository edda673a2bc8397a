package parse

import (
	"regexp"
	"strconv"
	"testing"
)

// kernelReleaseReference is ParseKernelRelease as it was, with a regular expression (issue
// 16 replaced it): the reference FuzzParseKernelRelease compares with.
func kernelReleaseReference(release string) (KernelVersion, bool) {
	m := regexp.MustCompile(`^(\d{1,6})\.(\d{1,6})(?:\.(\d{1,9}))?`).FindStringSubmatch(release)
	if m == nil {
		return KernelVersion{}, false
	}
	v := KernelVersion{Release: release}
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		v.Patch, _ = strconv.Atoi(m[3])
	}
	return v, true
}

func checkKernelRelease(t *testing.T, release string) {
	t.Helper()
	got, err := ParseKernelRelease(release)
	want, ok := kernelReleaseReference(release)
	if (err == nil) != ok || got != want {
		t.Errorf("ParseKernelRelease(%q) = %+v, %v; the expression says %+v, %v", release, got, err, want, ok)
	}
}

func TestParseKernelReleaseAsTheExpression(t *testing.T) {
	for _, r := range []string{
		"6.8.0-31-generic", "6.18.0", "5.15", "4.19.0-27-amd64", "6.1.0-rpi7-rpi-v8", "3.10.0-1160.el7.x86_64",
		"", "6", "6.", "6.x", ".6.1", "v6.1", "6..1", "6.1.", "6.1.x", "6.1..2", "1234567.1", "123456.1",
		"1.1234567", "1.1234567.8", "1.2.1234567890", "1.2.123456789", "1.2.3.4", "٣.٤", "6.1\n", "06.01.007",
	} {
		checkKernelRelease(t, r)
	}
}

func FuzzParseKernelRelease(f *testing.F) {
	for _, r := range []string{"6.8.0-31-generic", "5.15", "1.1234567.8", "123456.1", "6.1."} {
		f.Add(r)
	}
	f.Fuzz(checkKernelRelease)
}
