package parse

import (
	"fmt"
	"regexp"
	"sync"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// The iptables backends.
const (
	// IptablesLegacy is the x_tables backend (ip_tables and iptable_* modules).
	IptablesLegacy = "legacy"
	// IptablesNFTables is iptables-nft, the nf_tables backend (nf_tables, nft_* modules).
	IptablesNFTables = "nf_tables"
)

// IptablesVersion is what `iptables --version` says: "iptables v1.8.9 (nf_tables)".
type IptablesVersion struct {
	// Version is the version without the v ("1.8.9").
	Version string
	// Backend is IptablesLegacy or IptablesNFTables. iptables before 1.8 has no backend in
	// its output and only the legacy backend.
	Backend string
}

var iptablesVersionRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?m)^ip6?tables(?:-legacy|-nft)?\S* v(\d+(?:\.\d+){0,3})(?:\s*\(([A-Za-z_]+)\))?`)
})

// ParseIptablesVersion parses the output of `iptables --version`.
func ParseIptablesVersion(out []byte) (IptablesVersion, error) {
	out = versionHead(out)
	m := iptablesVersionRE().FindSubmatch(out)
	if m == nil {
		return IptablesVersion{}, fmt.Errorf("iptables --version: %w", ErrNoVersion)
	}
	v := IptablesVersion{Version: string(m[1])}
	switch string(m[2]) {
	case "nf_tables":
		v.Backend = IptablesNFTables
	case "legacy", "":
		// No parenthesis: iptables ≤ 1.6 (the nft backend arrived in 1.8.0), always legacy.
		v.Backend = IptablesLegacy
	default:
		return IptablesVersion{}, fmt.Errorf("iptables --version: unknown backend %q", finding.Clip(string(m[2]), 32))
	}
	return v, nil
}
