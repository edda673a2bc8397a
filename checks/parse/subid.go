package parse

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/user"
)

// MaxID is the largest subordinate id a range may reach: ids are 32-bit and (uid_t)-1 is not
// an id. shadow rejects ranges whose start+count passes 2^32
// (lib/shadow/subid/sgetsient.c, a2ul(..., maxof(id_t))).
const MaxID = 1<<32 - 2

// SubIDRange is one valid entry of /etc/subuid, /etc/subgid or of `getsubids` output: Owner
// (a name or a numeric uid, see subuid(5)) may map Count ids starting at Start.
type SubIDRange struct {
	Owner string
	Start int64
	Count int64
	// Line is the 1-based line number the entry came from.
	Line int
	// Text is the line as written (trimmed, clipped for reports).
	Text string
}

// End is the last id of the range.
func (r SubIDRange) End() int64 { return r.Start + r.Count - 1 }

// String is "START-END", the form usermod --del-subuids and fix intents take.
func (r SubIDRange) String() string { return fmt.Sprintf("%d-%d", r.Start, r.End()) }

// Overlaps reports whether two ranges share an id.
func (r SubIDRange) Overlaps(o SubIDRange) bool {
	return r.Start <= o.End() && o.Start <= r.End()
}

// Contains reports whether id is in the range.
func (r SubIDRange) Contains(id int64) bool { return id >= r.Start && id <= r.End() }

// BadLine is a line that is neither blank, a comment nor a valid entry.
type BadLine struct {
	Line int
	// Fields is the number of colon-separated fields (0 for getsubids output). RootlessKit's
	// static reader rejects the whole file when any line has other than three.
	Fields int
	// Owner is the text before the first colon (or the owner field of getsubids output): a
	// best guess at whose line it is.
	Owner  string
	Text   string
	Reason string

	// start and count are the line's second and third fields as far as Decimal reads them
	// (blanks around them ignored), for Claim.
	start, count       int64
	hasStart, hasCount bool
}

// Claim is the ids a malformed line may be meant to take, as far as its numbers can be read:
// START..START+COUNT-1 clipped to MaxID, or START alone when the count cannot be read or is
// 0. ok is false when there is no readable start within MaxID. It is a best effort for an
// allocator that must keep clear of whatever a broken line was meant to hold (a line with a
// fourth field or a blank in the owner still names the ids someone thought they had).
func (b BadLine) Claim() (first, last int64, ok bool) {
	if !b.hasStart || b.start > MaxID {
		return 0, 0, false
	}
	last = b.start
	if b.hasCount && b.count > 0 {
		last += min(b.count-1, MaxID-b.start)
	}
	return b.start, last, true
}

// badLine starts the BadLine of a subuid(5) line split into its colon-separated fields.
func badLine(lineNo int, line []byte, fields [][]byte) BadLine {
	b := BadLine{Line: lineNo, Fields: len(fields), Owner: clip(string(fields[0])), Text: clip(string(line))}
	if len(fields) >= 2 {
		b.start, b.hasStart = Decimal(string(bytes.TrimSpace(fields[1])))
	}
	if len(fields) >= 3 {
		b.count, b.hasCount = Decimal(string(bytes.TrimSpace(fields[2])))
	}
	return b
}

// Decimal reads an unsigned decimal number that fits in an int64: no sign, no blanks, no
// base prefix, leading zeros allowed. It is for ids and id ranges written by people
// (/etc/passwd, "START-END"), where "+5" or " 5" is a typo, not a number.
func Decimal(s string) (int64, bool) {
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// SubIDs is a parsed subordinate id listing. A malformed line does not spoil the others: it
// lands in Bad with its line number, so a report can name it and still judge the rest.
type SubIDs struct {
	Ranges []SubIDRange
	Bad    []BadLine
}

// Owned returns the ranges and bad lines of one account, matched by name or by numeric uid
// the way shadow's newuidmap and RootlessKit's idtools do (subuid(5): "the login name or
// the numerical user ID").
func (s SubIDs) Owned(name string, uid int) ([]SubIDRange, []BadLine) {
	var ranges []SubIDRange
	var bad []BadLine
	for _, r := range s.Ranges {
		if OwnerIs(r.Owner, name, uid) {
			ranges = append(ranges, r)
		}
	}
	for _, b := range s.Bad {
		if OwnerIs(b.Owner, name, uid) {
			bad = append(bad, b)
		}
	}
	return ranges, bad
}

// OwnerIs reports whether the owner field of an entry names the account.
func OwnerIs(owner, name string, uid int) bool {
	return owner != "" && (owner == name || owner == strconv.Itoa(uid))
}

// maxOwner bounds the owner field. Login names are at most 32 bytes with shadow's defaults
// and 256 (LOGIN_NAME_MAX) anywhere; longer is garbage, and it keeps every line handed to
// ParseSubID far below bufio.Scanner's line limit.
const maxOwner = 256

// ParseSubIDs parses /etc/subuid or /etc/subgid (subuid(5): NAME_OR_UID:START:COUNT).
//
// Decoding is left to github.com/moby/sys/user.ParseSubID, the reader runc and moby use, but
// that reader is lenient in ways that hide mistakes: it does not skip '#' comments, it takes
// "abc" or an overflowing number as 0, and it ignores missing or extra fields. RootlessKit's
// static reader, by contrast, rejects the whole file when any line lacks three fields
// (pkg/parent/idtools), and shadow skips entries it cannot parse
// (lib/shadow/subid/sgetsient.c). So each line is checked here first: blank lines and '#'
// comments are skipped, and a line without exactly three fields, a non-decimal number, a
// zero count or a range past 2^32 becomes a BadLine with its line number instead of failing
// the file.
func ParseSubIDs(data []byte) SubIDs {
	var out SubIDs
	var good [][]byte // the lines handed to user.ParseSubID
	var lineNo []int  // their line numbers
	for i, raw := range bytes.Split(data, []byte("\n")) {
		line := bytes.TrimSpace(raw)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		fields := bytes.Split(line, []byte(":"))
		bad := badLine(i+1, line, fields)
		switch {
		case len(fields) != 3:
			bad.Reason = fmt.Sprintf("has %d colon-separated fields, want 3 (NAME:START:COUNT)", len(fields))
		case len(fields[0]) == 0:
			bad.Reason = "has an empty owner"
		case len(fields[0]) > maxOwner:
			bad.Reason = fmt.Sprintf("has an owner longer than %d bytes", maxOwner)
		case bytes.ContainsAny(fields[0], " \t"):
			bad.Reason = "has blanks in the owner, which no tool will match"
		case !isDecimal(fields[1]):
			bad.Reason = fmt.Sprintf("start %q is not a decimal number", clip(string(fields[1])))
		case !isDecimal(fields[2]):
			bad.Reason = fmt.Sprintf("count %q is not a decimal number", clip(string(fields[2])))
		case bytes.ContainsFunc(fields[0], isControl):
			bad.Reason = "has control characters in the owner, which no tool will match"
		default:
			good = append(good, line)
			lineNo = append(lineNo, i+1)
			continue
		}
		out.Bad = append(out.Bad, bad)
	}
	if len(good) == 0 {
		return out
	}
	// Every line is now three fields with a short owner and short decimal numbers, which is
	// input on which ParseSubID is exact, so its answer has one entry per line, in order.
	subs, err := user.ParseSubID(bytes.NewReader(bytes.Join(good, []byte("\n"))))
	if err != nil || len(subs) != len(good) {
		// Not expected (every line is far below bufio.Scanner's 64 KiB limit), but if the
		// library ever disagrees, report the lines rather than guess.
		for i, line := range good {
			bad := badLine(lineNo[i], line, bytes.Split(line, []byte(":")))
			bad.Reason = "could not be read"
			out.Bad = append(out.Bad, bad)
		}
		return out
	}
	for i, s := range subs {
		r := SubIDRange{Owner: s.Name, Start: s.SubID, Count: s.Count, Line: lineNo[i], Text: clip(string(good[i]))}
		if reason := checkRange(r); reason != "" {
			bad := badLine(r.Line, good[i], bytes.Split(good[i], []byte(":")))
			bad.Owner, bad.Reason = r.Owner, reason
			out.Bad = append(out.Bad, bad)
			continue
		}
		out.Ranges = append(out.Ranges, r)
	}
	sortBad(out.Bad)
	return out
}

// isDecimal accepts 1 to 10 ASCII digits: every valid id fits, and nothing overflows the
// int64 ParseSubID decodes into (it would silently give 0). shadow also takes hex and octal
// (strtoul base 0), which the Go readers of runc, moby and RootlessKit do not, so such a
// line means different ranges to different tools: it is reported.
func isDecimal(b []byte) bool {
	if len(b) == 0 || len(b) > 10 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isControl reports an ASCII control character (blanks are caught before, with their own
// reason). A login name never holds one, so an owner that does matches no account.
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// checkRange says what is wrong with a decoded range, or "".
func checkRange(r SubIDRange) string {
	switch {
	case r.Count == 0:
		// shadow accepts it, but the kernel rejects a zero-length extent in uid_map.
		return "has a count of 0"
	case r.Start > MaxID:
		return fmt.Sprintf("start %d is past the largest id %d", r.Start, int64(MaxID))
	case r.Start+r.Count-1 > MaxID:
		return fmt.Sprintf("range %d-%d runs past the largest id %d", r.Start, r.Start+r.Count-1, int64(MaxID))
	}
	return ""
}

// sortBad orders bad lines by line number (the two passes above append out of order).
func sortBad(b []BadLine) {
	slices.SortStableFunc(b, func(x, y BadLine) int { return x.Line - y.Line })
}

// ParseGetsubids parses the output of shadow's `getsubids [-g] USER`, one range a line:
//
//	0: alice 100000 65536
//
// (src/getsubids.c prints "%d: %s %lu %lu"). getsubids asks the libsubid provider named by
// the `subid:` line of /etc/nsswitch.conf (SSSD, FreeIPA), so on such hosts it is the only
// place the ranges can be seen. Lines that do not have that shape are reported in Bad.
func ParseGetsubids(out []byte) SubIDs {
	var res SubIDs
	for i, raw := range bytes.Split(out, []byte("\n")) {
		line := bytes.TrimSpace(raw)
		if len(line) == 0 {
			continue
		}
		bad := BadLine{Line: i + 1, Text: clip(string(line))}
		idx, rest, ok := bytes.Cut(line, []byte(":"))
		fields := strings.Fields(string(rest))
		if len(fields) > 0 {
			bad.Owner = clip(string([]byte(fields[0])))
		}
		switch {
		case !ok || !isDecimal(bytes.TrimSpace(idx)):
			bad.Reason = `does not start with an index ("0:")`
		case len(fields) != 3:
			bad.Reason = fmt.Sprintf("has %d fields after the index, want 3 (OWNER START COUNT)", len(fields))
		case !isDecimal([]byte(fields[1])) || !isDecimal([]byte(fields[2])):
			bad.Reason = "start or count is not a decimal number"
		default:
			start, _ := strconv.ParseInt(fields[1], 10, 64)
			count, _ := strconv.ParseInt(fields[2], 10, 64)
			r := SubIDRange{Owner: fields[0], Start: start, Count: count, Line: i + 1, Text: clip(string(line))}
			if bad.Reason = checkRange(r); bad.Reason == "" {
				res.Ranges = append(res.Ranges, r)
				continue
			}
		}
		res.Bad = append(res.Bad, bad)
	}
	return res
}
