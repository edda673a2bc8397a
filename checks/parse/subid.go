package parse

import (
	"bytes"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// MaxID is the largest subordinate id a range may reach: ids are 32-bit and (uid_t)-1 is not
// an id. shadow rejects ranges whose start+count passes 2^32 since 4.20
// (lib/subordinateio.c, a2ul(..., maxof(id_t))); the kernel never maps (uid_t)-1.
const MaxID = 1<<32 - 2

// MinSubIDs is the number of subordinate ids Docker's rootless docs require: images own
// files up to 65534 (nobody) or 65532 (distroless nonroot), and unpacking a layer whose owner
// is not mapped fails with "lchown …: invalid argument"
// (https://docs.docker.com/engine/security/rootless/troubleshoot/,
// GoogleContainerTools/distroless#1248).
const MinSubIDs = 65536

// How shadow reads /etc/subuid and /etc/subgid, which this file mirrors (every tool that
// decides which ids an account may map — newuidmap, newgidmap, getsubids, useradd, usermod —
// goes through it). The references are to shadow 4.13, the version of Debian 12 and Ubuntu
// 22.04/24.04, with what later versions changed:
//
//   - lib/commonio.c, commonio_open: the file is read line by line with fgets and only the
//     '\n' is cut off, so a CRLF file leaves "\r" at the end of every line. A line that starts
//     with '+' or '-' is a NIS entry and is skipped (name_is_nis). A NUL byte makes fgets'
//     buffer look shorter than what it read, so 4.13 glues the next line onto the part before
//     the NUL; since 4.19 (getline + stpsep) a line without '\n' in it fails the whole file.
//     https://github.com/shadow-maint/shadow/blob/4.13/lib/commonio.c#L661-L690
//   - lib/subordinateio.c, subordinate_parse: a line of 1024 bytes or more is skipped; the
//     first three ':'-separated fields are taken (4.13 ignores a fourth and later ones; since
//     4.18 strsep2arr rejects the line); an empty field rejects the line; the owner is taken
//     as written (no trimming: " alice" is not alice); start and count go through getulong.
//     https://github.com/shadow-maint/shadow/blob/4.13/lib/subordinateio.c#L72-L119
//   - lib/getulong.c, getulong: strtoul(s, &end, 0) and the line is rejected unless the whole
//     field was read and nothing overflowed unsigned long. So: leading blanks (isspace: " \t\n
//     \v\f\r") and a '+' are accepted, "0x…" is hex and "0…" octal, anything after the number
//     — a trailing blank, the "\r" of a CRLF line — rejects the line, and a '-' negates in
//     unsigned arithmetic ("-1" is 2^64-1). 4.15 (strtoul_noneg) and later reject negative
//     numbers; 4.20 also rejects a start past 2^32-1 or a range past 2^32.
//     https://github.com/shadow-maint/shadow/blob/4.13/lib/getulong.c
//   - lib/subordinateio.c, list_owner_ranges (getsubids) and find_range (newuidmap): an entry
//     belongs to an account when the owner is its name or its uid written in decimal; every
//     such entry is listed, in file order.
//
// ParseSubIDs records both what shadow reads (SubIDs.Shadow, which `getsubids` prints) and
// the judgement of this tool (Ranges and Bad): a line shadow accepts is still reported when
// the kernel or the engines cannot use it (a zero count, a range past 2^32, a fourth field
// that newer shadow and RootlessKit reject, a negative number).

// isCSpace is isspace in the C locale, which getsubids and newuidmap run in.
func isCSpace(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' }

// digitVal is the value of a digit in bases up to 16, or 16 for anything else.
func digitVal(c byte) uint64 {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0')
	case c >= 'a' && c <= 'f':
		return uint64(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return uint64(c-'A') + 10
	}
	return 16
}

// strtoul mirrors glibc's strtoul(s, &end, 0) on a 64-bit unsigned long: blanks, a sign, a
// "0x" prefix (hex, only when a hex digit follows) or a leading "0" (octal), then as many
// digits as the base allows. end is the index after the last digit (0 when nothing was
// converted, as strtoul sets end to s); overflow is strtoul's ERANGE. base is 8, 10 or 16.
func strtoul(s string) (v uint64, end int, base int, neg, overflow bool) {
	i := 0
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	base = 10
	if i < len(s) && s[i] == '0' {
		base = 8
		if i+2 < len(s) && s[i+1]|0x20 == 'x' && digitVal(s[i+2]) < 16 {
			base = 16
			i += 2
		}
	}
	start := i
	for i < len(s) {
		d := digitVal(s[i])
		if d >= uint64(base) {
			break
		}
		hi, lo := bits.Mul64(v, uint64(base))
		lo, carry := bits.Add64(lo, d, 0)
		if hi != 0 || carry != 0 {
			overflow = true
		}
		v = lo
		i++
	}
	if i == start {
		return 0, 0, base, false, false
	}
	if overflow {
		return math.MaxUint64, i, base, neg, true
	}
	if neg {
		v = -v
	}
	return v, i, base, neg, false
}

// getulong is shadow 4.13's getulong: the whole field must be one number (see above).
func getulong(s string) (uint64, bool) {
	v, end, _, _, overflow := strtoul(s)
	return v, s != "" && end == len(s) && !overflow
}

// ShadowEntry is a line as shadow reads it (4.13, see above): what `getsubids OWNER` lists
// and newuidmap honours, valid or not for the kernel.
type ShadowEntry struct {
	Owner        string
	Start, Count uint64
	Line         int
}

// SubIDRange is one valid entry of /etc/subuid, /etc/subgid or of `getsubids` output: Owner
// (a name or a numeric uid, see subuid(5)) may map Count ids starting at Start.
type SubIDRange struct {
	Owner string
	Start int64
	Count int64
	// Line is the 1-based line number the entry came from.
	Line int
	// Text is the line as written (clipped for reports).
	Text string
	// Note says how shadow reads numbers not written in plain decimal ("start 0303240 is
	// octal: 100000"), "" when they are.
	Note string
	// misread is the range a reader that takes the numbers as decimal (moby/sys/user, which
	// runc and moby use; RootlessKit without getsubids) sees in a line written with leading
	// zeros, when that differs.
	misread *IDSpan
}

// End is the last id of the range.
func (r SubIDRange) End() int64 { return r.Start + r.Count - 1 }

// String is "START-END", the form usermod --del-subuids and fix intents take.
func (r SubIDRange) String() string { return fmt.Sprintf("%d-%d", r.Start, r.End()) }

// Span is the ids of the range.
func (r SubIDRange) Span() IDSpan { return IDSpan{First: r.Start, Last: r.End()} }

// Overlaps reports whether two ranges share an id.
func (r SubIDRange) Overlaps(o SubIDRange) bool { return r.Span().Overlaps(o.Span()) }

// Contains reports whether id is in the range.
func (r SubIDRange) Contains(id int64) bool { return r.Span().Contains(id) }

// Misread is the range a decimal reader (moby/sys/user.ParseSubID, RootlessKit reading the
// file itself when getsubids is missing) takes a line written with leading zeros to hold,
// when it differs from what shadow reads.
func (r SubIDRange) Misread() (IDSpan, bool) {
	if r.misread == nil {
		return IDSpan{}, false
	}
	return *r.misread, true
}

// Claims are the ids some tool may take the line to hold: the range, and what a decimal
// reader makes of it when that differs. An allocator must keep clear of all of them.
func (r SubIDRange) Claims() []IDSpan {
	out := []IDSpan{r.Span()}
	if r.misread != nil {
		out = append(out, *r.misread)
	}
	return out
}

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
	// CR is set when the line ends in a carriage return (a file saved with CRLF line ends):
	// shadow reads the "\r" as part of the count and skips the line, while the Go readers
	// trim it.
	CR bool
	// Repaired is the range the line holds once the CR is removed, when the CR is its only
	// fault (nil otherwise).
	Repaired *SubIDRange
	// claims: see Claims.
	claims []IDSpan
}

// Claims are the ids a malformed line may be meant to take, as far as its numbers can be
// read by any tool: START..START+COUNT-1 clipped to MaxID (to MaxID when the count is
// negative, which shadow 4.13 wraps to 2^64-N), START alone when the count cannot be read
// or is 0, and the decimal reading of numbers written with leading zeros. It is a best
// effort for an allocator that must keep clear of whatever a broken line was meant to hold (a
// line with a fourth field, a CR or a blank in the owner still names the ids someone thought
// they had, and fixing it makes them real).
func (b BadLine) Claims() []IDSpan { return b.claims }

// SubIDs is a parsed subordinate id listing. A malformed line does not spoil the others: it
// lands in Bad with its line number, so a report can name it and still judge the rest.
type SubIDs struct {
	Ranges []SubIDRange
	Bad    []BadLine
	// Shadow is every entry shadow accepts (4.13, see above), in file order: for an owner,
	// exactly what `getsubids OWNER` prints. Some are in Bad (a zero count, a fourth field).
	Shadow []ShadowEntry
	// Commented are the ids of '#' lines. shadow has no comments: it reads "#bob:1:2" as an
	// entry of an owner called "#bob", which nobody is, and useradd's find_free_range steps
	// around it; so does an allocator.
	Commented []IDSpan
	// NUL is set when the file holds a NUL byte: shadow 4.13 then joins lines in a way that
	// depends on its buffer sizes and 4.19 refuses the whole file, so no line can be trusted.
	NUL bool
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

// maxOwner bounds the owner field. Login names are at most 32 bytes with shadow's defaults
// and 256 (LOGIN_NAME_MAX) anywhere; longer is garbage.
const maxOwner = 256

// maxShadowLine: shadow skips a line of this many bytes or more (subordinate_parse's
// rangebuf[1024]).
const maxShadowLine = 1024

// ParseSubIDs parses /etc/subuid or /etc/subgid (subuid(5): NAME_OR_UID:START:COUNT) the way
// shadow does (see the top of this file), and judges each line: blank lines and '#' comments
// are skipped; a line shadow accepts whose range the kernel can map and whose owner can name
// an account is a range; anything else is a BadLine with its line number and the reason.
func ParseSubIDs(data []byte) SubIDs {
	var out SubIDs
	lines := bytes.Split(data, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1] // the text after the last '\n' is no line
	}
	for i, raw := range lines {
		lineNo := i + 1
		line := string(raw)
		if strings.IndexByte(line, 0) >= 0 {
			out.NUL = true
			out.Bad = append(out.Bad, BadLine{Line: lineNo, Fields: strings.Count(line, ":") + 1, Owner: ownerOf(line), Text: finding.Clip(line, maxText),
				Reason: "holds a NUL byte: shadow 4.13 joins such a line with the next one and shadow 4.19 and later reject the whole file"})
			continue
		}
		trimmed := strings.TrimFunc(line, func(r rune) bool { return r < 0x80 && isCSpace(byte(r)) })
		if trimmed == "" {
			continue
		}
		if e, ok := shadowParse(line); ok {
			e.Line = lineNo
			out.Shadow = append(out.Shadow, e)
		}
		if trimmed[0] == '#' {
			fields := strings.Split(line, ":")
			if len(fields) >= 2 {
				out.Commented = append(out.Commented, claimsOf(fields)...)
			}
			continue
		}
		r, bad, ok := judge(line)
		if ok {
			r.Line = lineNo
			out.Ranges = append(out.Ranges, r)
			continue
		}
		bad.Line = lineNo
		if bad.Repaired != nil {
			bad.Repaired.Line = lineNo
		}
		out.Bad = append(out.Bad, bad)
	}
	return out
}

func ownerOf(line string) string {
	owner, _, _ := strings.Cut(line, ":")
	return finding.Clip(owner, maxText)
}

// shadowParse is what shadow 4.13 makes of one line (without its '\n'): commonio_open's NIS
// skip, then subordinate_parse.
func shadowParse(line string) (ShadowEntry, bool) {
	if line == "" || line[0] == '+' || line[0] == '-' || len(line) >= maxShadowLine {
		return ShadowEntry{}, false
	}
	fields := strings.SplitN(line, ":", 4) // a fourth field and beyond are ignored (4.13)
	if len(fields) < 3 || fields[0] == "" || fields[1] == "" || fields[2] == "" {
		return ShadowEntry{}, false
	}
	start, ok1 := getulong(fields[1])
	count, ok2 := getulong(fields[2])
	if !ok1 || !ok2 {
		return ShadowEntry{}, false
	}
	return ShadowEntry{Owner: fields[0], Start: start, Count: count}, true
}

// judge decides whether a (non-blank, non-comment) line is a usable range.
func judge(line string) (SubIDRange, BadLine, bool) {
	fields := strings.Split(line, ":")
	bad := BadLine{Fields: len(fields), Owner: finding.Clip(fields[0], maxText), Text: finding.Clip(line, maxText), claims: claimsOf(fields)}
	cr := strings.HasSuffix(line, "\r")
	bad.CR = cr
	reason := func(format string, args ...any) (SubIDRange, BadLine, bool) {
		bad.Reason = fmt.Sprintf(format, args...)
		if cr && !strings.Contains(bad.Reason, "carriage return") {
			bad.Reason += " (and it ends in a carriage return)"
		}
		return SubIDRange{}, bad, false
	}
	if cr {
		// Judge the line as it would be without the CR: when that is a valid range, the CR is
		// its only fault, and removing it is the repair.
		r, b, ok := judge(strings.TrimSuffix(line, "\r"))
		if !ok {
			return reason("%s", b.Reason)
		}
		r.Text = finding.Clip(line, maxText)
		bad.Repaired = &r
		return reason("ends in a carriage return (a CRLF line end): shadow reads the count %q as a number followed by garbage and skips the line, so getsubids and newuidmap do not see %s, while Go readers that trim it do", fields[len(fields)-1], r)
	}
	owner := fields[0]
	switch {
	case owner != "" && (owner[0] == '+' || owner[0] == '-'):
		return reason("starts with %q, which shadow takes for a NIS entry and skips", owner[:1])
	case len(line) >= maxShadowLine:
		return reason("is %d bytes long; shadow skips lines of %d bytes or more", len(line), maxShadowLine)
	case len(fields) < 3:
		return reason("has %d colon-separated fields, want 3 (NAME:START:COUNT)", len(fields))
	case owner == "":
		return reason("has an empty owner")
	}
	start, startNote, why := number("start", fields[1])
	if why != "" {
		return reason("%s", why)
	}
	count, countNote, why := number("count", fields[2])
	if why != "" {
		return reason("%s", why)
	}
	r := SubIDRange{Owner: owner, Text: finding.Clip(line, maxText)}
	switch {
	case len(fields) > 3:
		return reason("has %d colon-separated fields, want 3 (NAME:START:COUNT): shadow 4.13 reads it as %d-%d and ignores the rest, but shadow 4.18 and later and RootlessKit's own reader reject it", len(fields), start, start+count-1)
	case len(owner) > maxOwner:
		return reason("has an owner longer than %d bytes", maxOwner)
	case strings.ContainsAny(owner, " \t"):
		return reason("has blanks in the owner, which no tool will match")
	case strings.ContainsFunc(owner, isControl):
		return reason("has control characters in the owner, which no tool will match")
	case count == 0:
		// shadow accepts it, but the kernel rejects a zero-length extent in uid_map.
		return reason("has a count of 0")
	case start > MaxID:
		return reason("start %d is past the largest id %d", start, uint64(MaxID))
	case count-1 > MaxID-start:
		return reason("range %d-%d runs past the largest id %d", start, start+count-1, uint64(MaxID))
	}
	r.Start, r.Count = int64(start), int64(count)
	var notes []string
	for _, n := range []string{startNote, countNote} {
		if n != "" {
			notes = append(notes, n)
		}
	}
	r.Note = strings.Join(notes, ", ")
	if ds, ok := decimalMisread(fields[1]); ok {
		if dc, ok := decimalMisread(fields[2]); ok {
			if s, ok := claimSpan(ds, dc); ok && s != r.Span() {
				r.misread = &s
			}
		}
	}
	return r, BadLine{}, true
}

// number reads a start or count field with getulong and says, when it is not plain decimal,
// how shadow reads it (note), or why shadow rejects it (why).
func number(what, s string) (v uint64, note, why string) {
	n, end, base, neg, overflow := strtoul(s)
	switch {
	case s == "":
		return 0, "", fmt.Sprintf("has an empty %s", what)
	case end == 0:
		return 0, "", fmt.Sprintf("%s %q is not a number", what, finding.Clip(s, maxText))
	case overflow:
		return 0, "", fmt.Sprintf("%s %q is larger than shadow reads (2^64-1)", what, finding.Clip(s, maxText))
	case end != len(s):
		return 0, "", fmt.Sprintf("%s %q has %q after the number, so shadow skips the line", what, finding.Clip(s, maxText), finding.Clip(s[end:], maxText))
	case neg:
		return 0, "", fmt.Sprintf("%s %q is negative: shadow 4.13 wraps it to %d, shadow 4.15 and later reject it", what, finding.Clip(s, maxText), n)
	}
	if s == strconv.FormatUint(n, 10) {
		return n, "", ""
	}
	form := map[int]string{8: "octal", 10: "decimal", 16: "hex"}[base]
	return n, fmt.Sprintf("%s %q is %s for %d", what, finding.Clip(s, maxText), form, n), ""
}

// decimalMisread is what a base-10 reader (moby/sys/user.ParseSubID: bytes.TrimSpace, then
// strconv.ParseInt(s, 10, 64)) makes of a field, when it reads a number at all.
func decimalMisread(s string) (uint64, bool) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	return n, err == nil
}

// claimSpan is START..START+COUNT-1 clipped to MaxID; a count of 0 still claims START. ok is
// false when START is past MaxID.
func claimSpan(start, count uint64) (IDSpan, bool) {
	if start > MaxID {
		return IDSpan{}, false
	}
	last := start
	if count > 0 {
		last += min(count-1, MaxID-start)
	}
	return IDSpan{First: int64(start), Last: int64(last)}, true
}

// claimsOf reads the numbers of a line's fields as leniently as any tool might: blanks and a
// CR around them ignored, the longest number at the start in shadow's bases (strtoul base
// 0), and the decimal reading of Go tools. A negative count claims up to MaxID.
func claimsOf(fields []string) []IDSpan {
	if len(fields) < 2 {
		return nil
	}
	lenient := func(s string) (uint64, bool, bool) {
		s = strings.TrimFunc(s, func(r rune) bool { return r < 0x80 && isCSpace(byte(r)) })
		v, end, _, neg, _ := strtoul(s)
		if neg {
			v = -v // the magnitude; the sign is returned apart
		}
		return v, neg, end > 0
	}
	var out []IDSpan
	add := func(start uint64, startNeg, startOK bool, count uint64, countNeg, countOK bool) {
		if !startOK || startNeg {
			return
		}
		switch {
		case !countOK:
			count = 0
		case countNeg:
			count = math.MaxUint64
		}
		s, ok := claimSpan(start, count)
		if ok && !slices.ContainsFunc(out, func(o IDSpan) bool { return o.First <= s.First && s.Last <= o.Last }) {
			out = append(out, s)
		}
	}
	count := ""
	if len(fields) >= 3 {
		count = fields[2]
	}
	s, sNeg, sOK := lenient(fields[1])
	c, cNeg, cOK := lenient(count)
	add(s, sNeg, sOK, c, cNeg, cOK)
	if ds, ok := decimalMisread(fields[1]); ok {
		dc, okc := decimalMisread(count)
		add(ds, false, true, dc, false, okc)
	}
	return out
}

// isControl reports an ASCII control character (blanks are caught before, with their own
// reason). A login name never holds one, so an owner that does matches no account.
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// isDecimal accepts 1 to 20 ASCII digits (getsubids prints numbers with %lu).
func isDecimal(b []byte) bool {
	if len(b) == 0 || len(b) > 20 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// checkRange says what is wrong with a decoded range, or "".
func checkRange(start, count uint64) string {
	switch {
	case count == 0:
		return "has a count of 0"
	case start > MaxID:
		return fmt.Sprintf("start %d is past the largest id %d", start, uint64(MaxID))
	case count-1 > MaxID-start:
		return fmt.Sprintf("range %d-%d runs past the largest id %d", start, start+count-1, uint64(MaxID))
	}
	return ""
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
		bad := BadLine{Line: i + 1, Text: finding.Clip(string(line), maxText)}
		idx, rest, ok := bytes.Cut(line, []byte(":"))
		fields := strings.Fields(string(rest))
		if len(fields) > 0 {
			bad.Owner = finding.Clip(fields[0], maxText)
		}
		switch {
		case !ok || !isDecimal(bytes.TrimSpace(idx)):
			bad.Reason = `does not start with an index ("0:")`
		case len(fields) != 3:
			bad.Reason = fmt.Sprintf("has %d fields after the index, want 3 (OWNER START COUNT)", len(fields))
		case !isDecimal([]byte(fields[1])) || !isDecimal([]byte(fields[2])):
			bad.Reason = "start or count is not a decimal number"
		default:
			start, err1 := strconv.ParseUint(fields[1], 10, 64)
			count, err2 := strconv.ParseUint(fields[2], 10, 64)
			if err1 != nil || err2 != nil {
				bad.Reason = "start or count is larger than 2^64-1"
				break
			}
			if bad.Reason = checkRange(start, count); bad.Reason == "" {
				res.Ranges = append(res.Ranges, SubIDRange{Owner: fields[0], Start: int64(start), Count: int64(count), Line: i + 1, Text: finding.Clip(string(line), maxText)})
				continue
			}
		}
		res.Bad = append(res.Bad, bad)
	}
	return res
}
