package parse

import "strings"

// CmdlineParam is one word of the kernel command line (/proc/cmdline): "key=value", or a
// bare "key" (HasValue false).
type CmdlineParam struct {
	Key, Value string
	HasValue   bool
}

// ParseCmdline splits /proc/cmdline the way the kernel's next_arg() does: words separated by
// white space, double quotes group a value that holds spaces and are removed.
func ParseCmdline(data []byte) []CmdlineParam {
	var out []CmdlineParam
	s := string(data)
	for i := 0; i < len(s); {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			break
		}
		var word strings.Builder
		inQuote := false
		for ; i < len(s); i++ {
			c := s[i]
			if c == '"' {
				inQuote = !inQuote
				continue
			}
			if !inQuote && isSpace(c) {
				break
			}
			word.WriteByte(c)
		}
		k, v, ok := strings.Cut(word.String(), "=")
		out = append(out, CmdlineParam{Key: k, Value: v, HasValue: ok})
	}
	return out
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// CmdlineValue returns the last value of key on the command line (the last one wins for the
// systemd.* switches); present is false when the key does not appear.
func CmdlineValue(params []CmdlineParam, key string) (value string, present bool) {
	for _, p := range params {
		if p.Key == key {
			value, present = p.Value, true
		}
	}
	return value, present
}
