package fixes

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// The table of kinds: everything the planner knows about one kind of fix intent is its kind
// entry, in its own file (kind_<name>.go), and this table lists the entries in plan order
// (packages before modules before sysctls … before manual steps; relogin last). Adding a
// kind is a constant and a constructor in finding/intent.go and one kind_<name>.go here,
// added to kinds below (docs/contributing.md, "Add a fix kind"). Nothing else switches on
// finding.Kind.
var kinds []kind

// The table is filled in init, not in its declaration: the step builders it names use
// IntentID, which reads the table, and Go refuses such a cycle in initializers.
func init() {
	kinds = []kind{
		kindPackage,
		kindModule,
		kindSysctl,
		kindCRLF,
		kindSubIDs,
		kindAppArmor,
		kindDelegate,
		kindDevice,
		kindLinger,
		kindUserFile,
		kindManual,
		kindRelogin,
	}
}

// kind is what the planner knows about one kind of intent.
type kind struct {
	kind finding.Kind
	// id is the stable id of the step the intent becomes: results list it in their "fixes"
	// field (docs/cli.md) and intents with the same id are merged.
	id func(finding.Intent) string
	// describe is one line for people ("install the package that provides slirp4netns").
	describe func(finding.Intent) string
	// mergeKey says which intents are the same change; nil means the id.
	mergeKey func(finding.Intent) string
	// validate refuses an intent whose values make no sense or cannot be put into a script
	// safely (ErrInvalid, ErrUnsafe), beyond the checks every intent gets.
	validate func(finding.Intent) error
	// sudo says whether the sudo helper, as root, applies the intent for account, the
	// ordinary account that asked (docs/security.md, "The sudo helper"); h is the host root
	// sees.
	sudo func(in finding.Intent, account string, h host.Host) error
	// build makes the steps of the intents of this kind, all of them required or all of
	// them optional (in the optional part of the plan).
	build func(b *builder, reqs []Request, optional bool) []Step
}

// kindOf is the table's entry of k.
func kindOf(k finding.Kind) (kind, bool) {
	i := slices.IndexFunc(kinds, func(e kind) bool { return e.kind == k })
	if i < 0 {
		return kind{}, false
	}
	return kinds[i], true
}

// order is the rank of a kind in a plan (len(kinds) for an unknown one).
func order(k finding.Kind) int {
	if i := slices.IndexFunc(kinds, func(e kind) bool { return e.kind == k }); i >= 0 {
		return i
	}
	return len(kinds)
}

// Kinds lists the kinds the planner knows, in plan order.
func Kinds() []finding.Kind {
	out := make([]finding.Kind, len(kinds))
	for i, e := range kinds {
		out[i] = e.kind
	}
	return out
}

// IntentID is the stable id of the step an intent becomes (the kind's own string for a kind
// the planner does not know).
func IntentID(in finding.Intent) string {
	if k, ok := kindOf(in.Kind); ok {
		return k.id(in)
	}
	return string(in.Kind)
}

// IDPattern is the form of the step ids the intents of kind k get (what results list in their
// "fixes" field), the part that varies in capitals: "sysctl.KEY", "subid.add". `explain`
// lists these, so it speaks the ids JSON uses, not the kinds.
func IDPattern(k finding.Kind) string {
	return IntentID(finding.Intent{Kind: k, Path: "/FILE", Key: "KEY", Name: "NAME", Tool: "TOOL"})
}

// Describe is a one-line human description of an intent.
func Describe(in finding.Intent) string {
	if k, ok := kindOf(in.Kind); ok {
		return k.describe(in)
	}
	return string(in.Kind)
}

// FixIDs are the step ids of a result's intents, deduplicated, in order: the "fixes" field of
// a result in the JSON report.
func FixIDs(r finding.Result) []string {
	ids := []string{}
	for _, in := range r.Intents {
		if id := IntentID(in); !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// mergeKey says which intents are the same change: the intent id, unless the kind says
// otherwise (profiles and devices, whose ids hold only part of the path).
func mergeKey(in finding.Intent) string {
	if k, ok := kindOf(in.Kind); ok && k.mergeKey != nil {
		return k.mergeKey(in)
	}
	return IntentID(in)
}

// pathKey merges intents on the same path: two binaries called rootlesskit in different
// directories need two profiles.
func pathKey(in finding.Intent) string { return string(in.Kind) + ":" + in.Path }

// validate checks an intent before anything is built from it: what every intent must be,
// then what its kind says.
func validate(r Request) error {
	in := r.Intent
	if err := CheckText("probe id", r.ProbeID); err != nil {
		return err
	}
	if r.ProbeID == "" {
		return fmt.Errorf("%w: empty probe id", ErrInvalid)
	}
	if err := CheckText("reason", in.Reason); err != nil {
		return err
	}
	k, ok := kindOf(in.Kind)
	if !ok {
		return fmt.Errorf("%w: unknown kind %q", ErrInvalid, in.Kind)
	}
	return k.validate(in)
}

// baseName is the last element of a path, for ids ("device.tun" for /dev/net/tun).
func baseName(p string) string {
	p = strings.TrimRight(p, "/")
	if j := strings.LastIndexByte(p, '/'); j >= 0 {
		return p[j+1:]
	}
	return p
}
