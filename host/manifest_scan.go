package host

import (
	"math"
	"unicode/utf8"
)

// scanManifest reads a manifest in one pass over its bytes, without reflection: what
// encoding/json took to decode a real host's manifest was 7% of a fleet replay's CPU time
// (issue 16, docs/performance.md). It takes only the manifest's own shapes written plainly,
// and then gives exactly what the bounded decoder gives: the keys as they are spelled, each
// top-level key once, no null, strings without control characters, invalid UTF-8 or
// surrogate escapes, integers without fraction or exponent that fit their field, every map
// and list within its limit. Anything else is false, and decodeManifest decodes it the
// bounded way, which gives its value or its error (FuzzManifestFast compares the two).
func scanManifest(data []byte) (Manifest, bool) {
	s := &mscan{d: data}
	var m Manifest
	seen := map[string]bool{}
	ok := s.object(func(key string) bool {
		if seen[key] {
			return false // a repeated member: merge or replace, as the decoder does per field
		}
		seen[key] = true
		switch key {
		case "version":
			return s.int(&m.Version)
		case "kernel":
			return s.str(&m.Kernel)
		case "user":
			return s.str(&m.User)
		case "executable":
			return s.str(&m.Executable)
		case "self":
			return s.object(func(k string) bool {
				switch k {
				case "uid":
					return s.int(&m.Self.UID)
				case "gid":
					return s.int(&m.Self.GID)
				case "name":
					return s.str(&m.Self.Name)
				}
				return false
			})
		case "env":
			m.Env = map[string]string{}
			return s.stringMap(m.Env, maxManifestEnv)
		case "fstypes":
			m.FSTypes = map[string]string{}
			return s.stringMap(m.FSTypes, maxManifestFSTypes)
		case "diskspace":
			m.DiskSpace = map[string]DiskSpace{}
			return s.object(func(p string) bool {
				var ds DiskSpace
				ok := s.object(func(k string) bool {
					switch k {
					case "size":
						return s.int64(&ds.Size)
					case "avail":
						return s.int64(&ds.Avail)
					}
					return false
				})
				m.DiskSpace[p] = ds
				return ok && len(m.DiskSpace) <= maxManifestSpace
			})
		case "files":
			m.Files = map[string]FileMeta{}
			return s.object(func(p string) bool {
				var fm FileMeta
				if !s.fileMeta(&fm) {
					return false
				}
				m.Files[p] = fm
				return len(m.Files) <= maxManifestFiles
			})
		case "commands":
			return s.array(func() bool {
				var c Command
				if !s.command(&c) {
					return false
				}
				m.Commands = append(m.Commands, c)
				return len(m.Commands) <= maxManifestCommands
			})
		}
		return false
	})
	if !ok {
		return Manifest{}, false
	}
	s.ws()
	return m, s.i == len(s.d)
}

// mscan is scanManifest's reader: d[i:] is what is left.
type mscan struct {
	d []byte
	i int
}

// ws skips JSON whitespace.
func (s *mscan) ws() {
	for s.i < len(s.d) {
		switch s.d[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next skips whitespace and takes c if it is next.
func (s *mscan) next(c byte) bool {
	s.ws()
	if s.i < len(s.d) && s.d[s.i] == c {
		s.i++
		return true
	}
	return false
}

// object reads {"key": value, …}, calling member for each key with the reader at its value.
func (s *mscan) object(member func(key string) bool) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	for {
		var key string
		if !s.str(&key) || !s.next(':') || !member(key) {
			return false
		}
		if s.next('}') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// array reads [value, …], calling elem at each value.
func (s *mscan) array(elem func() bool) bool {
	if !s.next('[') {
		return false
	}
	if s.next(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if s.next(']') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

func (s *mscan) stringMap(out map[string]string, max int) bool {
	return s.object(func(k string) bool {
		var v string
		if !s.str(&v) {
			return false
		}
		out[k] = v
		return len(out) <= max
	})
}

func (s *mscan) fileMeta(fm *FileMeta) bool {
	return s.object(func(k string) bool {
		switch k {
		case "type":
			return s.str(&fm.Type)
		case "mode":
			return s.str(&fm.Mode)
		case "caps":
			return s.str(&fm.Caps)
		case "target":
			return s.str(&fm.Target)
		case "uid":
			fm.UID = new(int)
			return s.int(fm.UID)
		case "gid":
			fm.GID = new(int)
			return s.int(fm.GID)
		case "major":
			return s.uint32(&fm.Major)
		case "minor":
			return s.uint32(&fm.Minor)
		case "denied":
			return s.bool(&fm.Denied)
		}
		return false
	})
}

func (s *mscan) command(c *Command) bool {
	return s.object(func(k string) bool {
		switch k {
		case "argv":
			c.Argv = nil // a repeated argv replaces, as boundedList does
			return s.array(func() bool {
				var a string
				if !s.str(&a) {
					return false
				}
				c.Argv = append(c.Argv, a)
				return len(c.Argv) <= maxArgv
			})
		case "stdout":
			return s.str(&c.Stdout)
		case "stderr":
			return s.str(&c.Stderr)
		case "error":
			return s.str(&c.Error)
		case "exit":
			return s.int(&c.Exit)
		}
		return false
	})
}

// str reads a string. The common escapes are decoded, \u only outside the surrogates (a
// lone or paired surrogate is left to encoding/json); a control character or invalid UTF-8
// (which encoding/json replaces) is false.
func (s *mscan) str(out *string) bool {
	if !s.next('"') {
		return false
	}
	start := s.i
	for s.i < len(s.d) {
		switch c := s.d[s.i]; {
		case c == '"':
			raw := s.d[start:s.i]
			s.i++
			if !utf8.Valid(raw) {
				return false
			}
			*out = string(raw)
			return true
		case c == '\\':
			return s.escaped(start, out)
		case c < 0x20:
			return false
		default:
			s.i++
		}
	}
	return false
}

// escaped finishes a string from start whose first escape is at s.i.
func (s *mscan) escaped(start int, out *string) bool {
	buf := make([]byte, 0, s.i-start+16)
	buf = append(buf, s.d[start:s.i]...)
	for s.i < len(s.d) {
		c := s.d[s.i]
		switch {
		case c == '"':
			s.i++
			if !utf8.Valid(buf) {
				return false
			}
			*out = string(buf)
			return true
		case c < 0x20:
			return false
		case c != '\\':
			buf = append(buf, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.d) {
			return false
		}
		e := s.d[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			if s.i+4 > len(s.d) {
				return false
			}
			r := rune(0)
			for _, h := range s.d[s.i : s.i+4] {
				switch {
				case '0' <= h && h <= '9':
					r = r<<4 | rune(h-'0')
				case 'a' <= h && h <= 'f':
					r = r<<4 | rune(h-'a'+10)
				case 'A' <= h && h <= 'F':
					r = r<<4 | rune(h-'A'+10)
				default:
					return false
				}
			}
			if 0xd800 <= r && r < 0xe000 {
				return false
			}
			s.i += 4
			buf = utf8.AppendRune(buf, r)
		default:
			return false
		}
	}
	return false
}

// number reads -?(0|[1-9][0-9]*) with at most 18 digits, no fraction or exponent.
func (s *mscan) number() (v int64, neg, ok bool) {
	s.ws()
	neg = s.i < len(s.d) && s.d[s.i] == '-'
	if neg {
		s.i++
	}
	start := s.i
	for s.i < len(s.d) && '0' <= s.d[s.i] && s.d[s.i] <= '9' {
		v = v*10 + int64(s.d[s.i]-'0')
		s.i++
	}
	n := s.i - start
	if n == 0 || n > 18 || n > 1 && s.d[start] == '0' {
		return 0, false, false
	}
	if s.i < len(s.d) {
		switch s.d[s.i] {
		case '.', 'e', 'E':
			return 0, false, false
		}
	}
	if neg {
		v = -v
	}
	return v, neg, true
}

func (s *mscan) int(out *int) bool {
	v, _, ok := s.number()
	if !ok {
		return false
	}
	*out = int(v)
	return true
}

func (s *mscan) int64(out *int64) bool {
	v, _, ok := s.number()
	*out = v
	return ok
}

// uint32 is encoding/json's: no sign at all (it refuses "-0" too), at most MaxUint32.
func (s *mscan) uint32(out *uint32) bool {
	v, neg, ok := s.number()
	if !ok || neg || v > math.MaxUint32 {
		return false
	}
	*out = uint32(v)
	return true
}

func (s *mscan) bool(out *bool) bool {
	s.ws()
	switch {
	case len(s.d)-s.i >= 4 && string(s.d[s.i:s.i+4]) == "true":
		*out = true
		s.i += 4
	case len(s.d)-s.i >= 5 && string(s.d[s.i:s.i+5]) == "false":
		*out = false
		s.i += 5
	default:
		return false
	}
	return true
}
