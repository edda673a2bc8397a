package report

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixes"
)

// The JSON report without reflection (issue 16). encoding/json walked jsonReport by reflection
// for every host of a fleet, ~6% of a replayed host's CPU time (docs/performance.md). The
// writer below appends exactly the bytes json.Encoder gives with SetEscapeHTML(false) and
// SetIndent(prefix, indent) (compact when indent is ""), trailing newline included: the same
// field order, omitempty, null for a nil slice or pointer, string escapes and number forms.
// It knows these types only; TestJSONWriterKnowsEveryField fails when one gains a field,
// and TestJSONWriterMatchesEncodingJSON / FuzzReportJSON compare it with encoding/json.

// jsonWriter holds the layout while its methods append JSON to the buffer they are given and
// return: the buffer stays in the callers' locals, where appending to it needs no GC write
// barrier (a store through *jsonWriter would). depth is the nesting of the value being written.
type jsonWriter struct {
	prefix, indent string
	depth          int
	// bad is set when a value encoding/json refuses (a NaN or infinite float) was met: the
	// caller then lets encoding/json write the report, for its error.
	bad bool
}

// appendJSONL appends v as json.Encoder.Encode writes it (with the trailing newline), or
// returns ok false, dst unchanged in content, when encoding/json would fail. With from set,
// v's report is jsonHead(from) and its results are from's, each converted by toJSONResult
// as it is written: the bytes of toJSON(from), without the slice of every result.
func appendJSONL(dst []byte, v *jsonlReport, from *Report, prefix, indent string) (out []byte, ok bool) {
	w := jsonWriter{prefix: prefix, indent: indent}
	n := 0
	b := w.open(dst, '{')
	b = w.optStr(b, &n, "root", v.Root)
	b = w.optStr(b, &n, "error", v.Error)
	if v.jsonReport != nil {
		b = w.reportFields(b, &n, v.jsonReport, from)
	}
	b = w.close(b, '}', n)
	b = append(b, '\n')
	if w.bad {
		return dst, false
	}
	return b, true
}

// appendJSONReport is appendJSONL of the report alone (--output json).
func appendJSONReport(dst []byte, r *jsonReport, from *Report, prefix, indent string) (out []byte, ok bool) {
	w := jsonWriter{prefix: prefix, indent: indent}
	n := 0
	b := w.open(dst, '{')
	b = w.reportFields(b, &n, r, from)
	b = w.close(b, '}', n)
	b = append(b, '\n')
	if w.bad {
		return dst, false
	}
	return b, true
}

// newline starts a line at the current depth, as json.Indent does; nothing when compact.
func (w *jsonWriter) newline(b []byte) []byte {
	if w.indent == "" && w.prefix == "" {
		return b
	}
	b = append(b, '\n')
	b = append(b, w.prefix...)
	for range w.depth {
		b = append(b, w.indent...)
	}
	return b
}

// open starts an object or array; close ends it after n members ("{}" and "[]" when none,
// as json.Indent keeps them).
func (w *jsonWriter) open(b []byte, c byte) []byte {
	w.depth++
	return append(b, c)
}

func (w *jsonWriter) close(b []byte, c byte, n int) []byte {
	w.depth--
	if n > 0 {
		b = w.newline(b)
	}
	return append(b, c)
}

// key starts the next member of an object, counted in n.
func (w *jsonWriter) key(b []byte, n *int, name string) []byte {
	if *n > 0 {
		b = append(b, ',')
	}
	*n++
	b = w.newline(b)
	b = append(b, '"')
	b = append(b, name...) // the names are plain ASCII
	b = append(b, '"', ':')
	if w.indent != "" || w.prefix != "" {
		b = append(b, ' ')
	}
	return b
}

// elem starts the next element of an array, counted in n.
func (w *jsonWriter) elem(b []byte, n *int) []byte {
	if *n > 0 {
		b = append(b, ',')
	}
	*n++
	return w.newline(b)
}

func (w *jsonWriter) boolean(b []byte, v bool) []byte { return strconv.AppendBool(b, v) }

func (w *jsonWriter) int(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }

// float is encoding/json's float64 form: like ES6's number to string, 'e' below 1e-6 and
// from 1e21 on, with the exponent not padded ("1e-7", not "1e-07").
func (w *jsonWriter) float(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		w.bad = true
		b = append(b, '0')
		return b
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// str is encoding/json's string form without HTML escaping: `"` and `\` escaped, the
// control characters as \b \f \n \r \t or \u00XX, each invalid UTF-8 byte as \ufffd, and
// U+2028 and U+2029 as \u2028 and \u2029 (they end a line in JavaScript).
func (w *jsonWriter) str(b []byte, s string) []byte {
	return appendJSONString(b, s)
}

// Eight bytes at a time (SWAR): each byte's high bit in the result is set when that byte
// may need escaping: a control character (below 0x20), '"', '\\', or not ASCII.
const (
	swarOnes  = 0x0101010101010101
	swarHighs = 0x8080808080808080
)

func swarSpecial(x uint64) uint64 {
	below := (x - 0x20*swarOnes) &^ x // a byte < 0x20 (exact as a whole: some byte is)
	q := x ^ '"'*swarOnes
	quote := (q - swarOnes) &^ q
	bs := x ^ '\\'*swarOnes
	backslash := (bs - swarOnes) &^ bs
	return (below | quote | backslash | x) & swarHighs
}

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Skip runs of plain ASCII eight bytes at a time (most of a report: file contents,
		// commands, evidence).
		for i+8 <= len(s) {
			w := s[i : i+8] // one bounds check, one load
			x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
				uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
			if swarSpecial(x) != 0 {
				break
			}
			i += 8
		}
		if i >= len(s) {
			break
		}
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// strs is a []string: null when nil, else an array.
func (w *jsonWriter) strs(b []byte, v []string) []byte {
	if v == nil {
		b = append(b, "null"...)
		return b
	}
	b = w.open(b, '[')
	n := 0
	for _, s := range v {
		b = w.elem(b, &n)
		b = w.str(b, s)
	}
	b = w.close(b, ']', n)
	return b
}

// reportFields writes jsonReport's members into the object being written; the results are
// from's when from is set (see appendJSONL).
func (w *jsonWriter) reportFields(b []byte, n *int, r *jsonReport, from *Report) []byte {
	b = w.key(b, n, "schema")
	b = w.str(b, r.Schema)
	b = w.key(b, n, "tool")
	b = w.tool(b, &r.Tool)
	b = w.key(b, n, "host")
	b = w.host(b, &r.Host)
	b = w.key(b, n, "results")
	if from != nil {
		b = w.open(b, '[')
		m := 0
		for i := range from.Results {
			b = w.elem(b, &m)
			jr := toJSONResult(&from.Results[i])
			b = w.result(b, &jr)
		}
		b = w.close(b, ']', m)
	} else if r.Results == nil {
		b = append(b, "null"...)
	} else {
		b = w.open(b, '[')
		m := 0
		for i := range r.Results {
			b = w.elem(b, &m)
			b = w.result(b, &r.Results[i])
		}
		b = w.close(b, ']', m)
	}
	b = w.key(b, n, "plan")
	b = w.plan(b, r.Plan)
	b = w.key(b, n, "summary")
	b = w.summary(b, &r.Summary)
	b = w.key(b, n, "ok")
	b = w.boolean(b, r.OK)
	b = w.key(b, n, "fail_on")
	b = w.str(b, string(r.FailOn))
	if len(r.Notes) > 0 {
		b = w.key(b, n, "notes")
		b = w.strs(b, r.Notes)
	}
	return b
}

func (w *jsonWriter) tool(b []byte, t *Tool) []byte {
	n := 0
	b = w.open(b, '{')
	b = w.key(b, &n, "name")
	b = w.str(b, t.Name)
	b = w.key(b, &n, "version")
	b = w.str(b, t.Version)
	b = w.optStr(b, &n, "revision", t.Revision)
	b = w.optStr(b, &n, "go", t.Go)
	b = w.close(b, '}', n)
	return b
}

func (w *jsonWriter) host(b []byte, h *HostInfo) []byte {
	n := 0
	b = w.open(b, '{')
	b = w.key(b, &n, "distro")
	m := 0
	b = w.open(b, '{')
	b = w.key(b, &m, "id")
	b = w.str(b, h.Distro.ID)
	b = w.key(b, &m, "version_id")
	b = w.str(b, h.Distro.VersionID)
	b = w.key(b, &m, "pretty_name")
	b = w.str(b, h.Distro.PrettyName)
	b = w.close(b, '}', m)
	b = w.key(b, &n, "kernel")
	b = w.str(b, h.Kernel)
	b = w.key(b, &n, "user")
	m = 0
	b = w.open(b, '{')
	b = w.key(b, &m, "name")
	b = w.str(b, h.User.Name)
	b = w.key(b, &m, "uid")
	b = w.int(b, int64(h.User.UID))
	b = w.key(b, &m, "home")
	b = w.str(b, h.User.Home)
	b = w.close(b, '}', m)
	b = w.close(b, '}', n)
	return b
}

func (w *jsonWriter) result(b []byte, r *jsonResult) []byte {
	n := 0
	b = w.open(b, '{')
	b = w.key(b, &n, "id")
	b = w.str(b, r.ID)
	b = w.key(b, &n, "title")
	b = w.str(b, r.Title)
	b = w.key(b, &n, "status")
	b = w.str(b, string(r.Status))
	b = w.key(b, &n, "summary")
	b = w.str(b, r.Summary)
	b = w.key(b, &n, "details")
	b = w.strs(b, r.Details)
	b = w.key(b, &n, "evidence")
	if r.Evidence == nil {
		b = append(b, "null"...)
	} else {
		b = w.open(b, '[')
		m := 0
		for _, e := range r.Evidence {
			b = w.elem(b, &m)
			b = w.evidence(b, e)
		}
		b = w.close(b, ']', m)
	}
	b = w.key(b, &n, "fixes")
	b = w.strs(b, r.Fixes)
	b = w.key(b, &n, "duration_ms")
	b = w.float(b, r.DurationMS)
	if r.Engine != nil {
		b = w.key(b, &n, "engine")
		b = w.engine(b, r.Engine)
	}
	if r.Ignored {
		b = w.key(b, &n, "ignored")
		b = w.boolean(b, true)
	}
	b = w.close(b, '}', n)
	return b
}

func (w *jsonWriter) evidence(b []byte, e finding.Evidence) []byte {
	n := 0
	b = w.open(b, '{')
	b = w.key(b, &n, "source")
	b = w.str(b, e.Source)
	b = w.key(b, &n, "value")
	b = w.str(b, e.Value)
	b = w.close(b, '}', n)
	return b
}

func (w *jsonWriter) engine(b []byte, e *finding.Engine) []byte {
	n := 0
	b = w.open(b, '{')
	b = w.key(b, &n, "name")
	b = w.str(b, e.Name)
	b = w.key(b, &n, "installed")
	b = w.boolean(b, e.Installed)
	b = w.key(b, &n, "version")
	b = w.str(b, e.Version)
	b = w.key(b, &n, "runtime")
	b = w.str(b, e.Runtime)
	b = w.key(b, &n, "network")
	b = w.str(b, e.Network)
	b = w.key(b, &n, "storage")
	b = w.str(b, e.Storage)
	b = w.key(b, &n, "ready")
	b = w.boolean(b, e.Ready)
	b = w.key(b, &n, "reasons")
	b = w.strs(b, e.Reasons)
	b = w.optStrs(b, &n, "blocked_by", e.BlockedBy)
	b = w.close(b, '}', n)
	return b
}

func (w *jsonWriter) plan(b []byte, p *fixes.Plan) []byte {
	if p == nil {
		b = append(b, "null"...)
		return b
	}
	n := 0
	b = w.open(b, '{')
	b = w.key(b, &n, "steps")
	if p.Steps == nil {
		b = append(b, "null"...)
	} else {
		b = w.open(b, '[')
		m := 0
		for i := range p.Steps {
			b = w.elem(b, &m)
			b = w.step(b, &p.Steps[i])
		}
		b = w.close(b, ']', m)
	}
	b = w.close(b, '}', n)
	return b
}

func (w *jsonWriter) step(b []byte, s *fixes.Step) []byte {
	n := 0
	b = w.open(b, '{')
	b = w.key(b, &n, "id")
	b = w.str(b, s.ID)
	b = w.key(b, &n, "title")
	b = w.str(b, s.Title)
	b = w.key(b, &n, "commands")
	b = w.strs(b, s.Commands)
	if len(s.Files) > 0 {
		b = w.key(b, &n, "files")
		b = w.open(b, '[')
		m := 0
		for _, f := range s.Files {
			b = w.elem(b, &m)
			k := 0
			b = w.open(b, '{')
			b = w.key(b, &k, "path")
			b = w.str(b, f.Path)
			b = w.key(b, &k, "mode")
			b = w.str(b, f.Mode)
			b = w.key(b, &k, "content")
			b = w.str(b, f.Content)
			b = w.close(b, '}', k)
		}
		b = w.close(b, ']', m)
	}
	b = w.key(b, &n, "relogin")
	b = w.boolean(b, s.Relogin)
	if s.Optional {
		b = w.key(b, &n, "optional")
		b = w.boolean(b, true)
	}
	b = w.key(b, &n, "fixes")
	b = w.strs(b, s.Fixes)
	if s.Manual {
		b = w.key(b, &n, "manual")
		b = w.boolean(b, true)
	}
	b = w.optStrs(b, &n, "intents", s.Intents)
	b = w.optStrs(b, &n, "why", s.Why)
	b = w.optStr(b, &n, "as", s.As)
	b = w.optStr(b, &n, "unless", s.Unless)
	b = w.close(b, '}', n)
	return b
}

func (w *jsonWriter) summary(b []byte, s *finding.Summary) []byte {
	n := 0
	b = w.open(b, '{')
	b = w.key(b, &n, "pass")
	b = w.int(b, int64(s.Pass))
	b = w.key(b, &n, "warn")
	b = w.int(b, int64(s.Warn))
	b = w.key(b, &n, "fail")
	b = w.int(b, int64(s.Fail))
	b = w.key(b, &n, "skip")
	b = w.int(b, int64(s.Skip))
	if s.Ignored != 0 {
		b = w.key(b, &n, "ignored")
		b = w.int(b, int64(s.Ignored))
	}
	b = w.close(b, '}', n)
	return b
}

// optStr writes the member key: v unless v is empty (omitempty on a string).
func (w *jsonWriter) optStr(b []byte, n *int, key, v string) []byte {
	if v == "" {
		return b
	}
	b = w.key(b, n, key)
	return w.str(b, v)
}

// optStrs writes the member key: v unless v is empty (omitempty on a []string).
func (w *jsonWriter) optStrs(b []byte, n *int, key string, v []string) []byte {
	if len(v) == 0 {
		return b
	}
	b = w.key(b, n, key)
	return w.strs(b, v)
}
