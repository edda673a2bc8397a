package parse

import (
	"fmt"
	"strconv"
	"strings"

	"kernel.org/pub/linux/libs/security/libcap/cap"
)

// FileCaps are the file capabilities of a binary, from getcap(8) text.
type FileCaps struct {
	set *cap.Set
	// RootID is the namespace root uid of v3 (namespaced) file capabilities, 0 for ordinary
	// ones. Capabilities with a non-zero root id apply only inside the user namespace whose
	// root is that uid, never on the host (capabilities(7), "Namespaced file capabilities").
	RootID int
}

// ParseFileCaps reads file capabilities in the text form getcap(8) and cap_to_text(3)
// print: "cap_setuid=ep", "cap_setuid+ep", "cap_setgid,cap_setuid=ep", "= cap_setuid+ep".
// It also accepts what a pasted getcap line adds around that: a leading path
// ("/usr/bin/newuidmap cap_setuid=ep", or "/usr/bin/newuidmap = cap_setuid+ep" from
// libcap < 2.30) and a trailing " [rootid=1001]". Empty text is a file without capabilities.
//
// The grammar (and its surprises: every "=" clause resets all earlier ones) is libcap's own
// cap.FromText, which is tested against the C cap_from_text. Note that the first use of the
// cap package asks the running kernel which capabilities it knows (capget, PR_CAPBSET_READ);
// that reads no file and changes nothing.
func ParseFileCaps(text string) (FileCaps, error) {
	fc := FileCaps{}
	var words []string
	for i, w := range strings.Fields(text) {
		switch {
		case i == 0 && strings.HasPrefix(w, "/"):
			continue
		case strings.HasPrefix(w, "[rootid=") && strings.HasSuffix(w, "]"):
			id, err := strconv.Atoi(w[len("[rootid=") : len(w)-1])
			if err != nil || id < 0 {
				return FileCaps{}, fmt.Errorf("file capabilities %q: bad rootid", text)
			}
			fc.RootID = id
			continue
		}
		words = append(words, w)
	}
	if len(words) == 0 {
		return FileCaps{}, nil // a rootid says nothing without capabilities
	}
	set, err := cap.FromText(strings.Join(words, " "))
	if err != nil {
		return FileCaps{}, fmt.Errorf("file capabilities %q: %w", text, err)
	}
	fc.set = set
	return fc, nil
}

// Flags reports whether v is in the effective and in the permitted set. The kernel grants a
// file capability at exec only through permitted; effective decides whether it is active
// right away, which a program that does not raise it itself needs (capabilities(7), "File
// capabilities").
func (c FileCaps) Flags(v cap.Value) (effective, permitted bool) {
	if c.set == nil {
		return false, false
	}
	e, err1 := c.set.GetFlag(cap.Effective, v)
	p, err2 := c.set.GetFlag(cap.Permitted, v)
	return err1 == nil && e, err2 == nil && p
}

// String is the capabilities in cap_to_text form ("" when there are none).
func (c FileCaps) String() string {
	if c.set == nil {
		return ""
	}
	s := c.set.String()
	if c.RootID != 0 {
		s += fmt.Sprintf(" [rootid=%d]", c.RootID)
	}
	return s
}
