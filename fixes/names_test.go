package fixes

import (
	"regexp"
	"strings"
	"testing"
)

// The expressions validModule, validName and validController replaced (issue 16): each must
// accept exactly what its expression matched.
var (
	refModule     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	refName       = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	refController = regexp.MustCompile(`^[a-z_]{1,32}$`)
)

func checkNamePatterns(t *testing.T, s string) {
	t.Helper()
	for _, c := range []struct {
		name string
		got  bool
		ref  *regexp.Regexp
	}{
		{"validModule", validModule(s), refModule},
		{"validName", validName(s), refName},
		{"validController", validController(s), refController},
	} {
		if want := c.ref.MatchString(s); c.got != want {
			t.Errorf("%s(%q) = %v, the expression %s says %v", c.name, s, c.got, c.ref, want)
		}
	}
}

func TestNamePatterns(t *testing.T) {
	for _, s := range []string{
		"", "a", "A", "0", "-", "_", ".", "a.b", ".a", "a-", "tun", "ip_tables", "nf-nat", "Z9",
		"podman", "uidmap", "cpu", "cpuset", "memory", "hugetlb", "rdma_x", "a b", "a\n", "\na",
		"é", "a\x00", strings.Repeat("a", 32), strings.Repeat("a", 33), strings.Repeat("b", 64),
		strings.Repeat("b", 65), "a" + strings.Repeat(".", 63), "a" + strings.Repeat(".", 64),
	} {
		checkNamePatterns(t, s)
	}
}

func FuzzNamePatterns(f *testing.F) {
	for _, s := range []string{"tun", "ip_tables", "a.b-c_d", "", "a\n", strings.Repeat("x", 64)} {
		f.Add(s)
	}
	f.Fuzz(checkNamePatterns)
}
