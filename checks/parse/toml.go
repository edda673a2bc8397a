package parse

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// The engines' TOML files are decoded with the decoder each engine itself uses (docs/engines.md
// §1.7, §3, §4): github.com/BurntSushi/toml for containers.conf and storage.conf (Podman,
// Buildah, CRI-O through containers/common and containers/storage), and
// github.com/pelletier/go-toml/v2 for nerdctl.toml, buildkitd.toml and containerd's
// config.toml. What is ours is only which keys are mapped into which fields, and the chain
// of files (checks/facts): the differential fuzz tests (toml_test.go) feed the same bytes to
// the engine's decoder and to ours and fail when ours accepts what the engine's rejects.

// MaxTOMLNesting bounds the nesting of arrays and inline tables. go-toml/v2 refuses more than
// 10000 levels itself; BurntSushi/toml has no limit and recurses per level, so a file of
// four megabytes of "[" overflows the goroutine stack, which Go cannot recover from. The
// count here ignores strings and comments (it counts every bracket), so it can only refuse
// more than the decoders would, and only for files nobody writes by hand.
const MaxTOMLNesting = 10000

// ErrTOMLNesting is returned (wrapped) for a file nested more deeply than MaxTOMLNesting.
var ErrTOMLNesting = errors.New("arrays and inline tables nested too deeply")

// checkTOMLInput refuses what must not reach a decoder: a file that is not UTF-8 (TOML is
// UTF-8; both decoders refuse it too, this only gives one message) and one nested beyond
// MaxTOMLNesting.
func checkTOMLInput(data []byte) error {
	if !utf8.Valid(data) {
		return errors.New("toml: the file is not valid UTF-8")
	}
	if bytes.Count(data, []byte("["))+bytes.Count(data, []byte("{")) <= MaxTOMLNesting {
		// Not that many openings in the whole file: no nesting can go deeper. Counting is
		// vectorised; the loop below costs a branch per byte of a file mostly comments.
		return nil
	}
	depth := 0
	for _, c := range data {
		switch c {
		case '[', '{':
			if depth++; depth > MaxTOMLNesting {
				return fmt.Errorf("toml: %w (more than %d levels)", ErrTOMLNesting, MaxTOMLNesting)
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return nil
}

// tomlError clips a decoder's error: BurntSushi/toml names the last key, which a hostile file
// can make megabytes long.
func tomlError(err error) error {
	if err == nil {
		return nil
	}
	return &DecodeError{msg: finding.Clip(err.Error(), 400), err: err}
}

// DecodeError is a TOML file the engine's decoder refused, with the decoder's message (clipped).
type DecodeError struct {
	msg string
	err error
}

func (e *DecodeError) Error() string { return e.msg }
func (e *DecodeError) Unwrap() error { return e.err }

// tomlText is data as the string BurntSushi/toml decodes, without the text of its comment
// lines: a line whose first character other than space and tab is '#' keeps only its line
// ending. The distributions' containers.conf is 800 lines of which a dozen are not comments,
// and the decoder lexes a comment rune by rune, item by item: 12% of the CPU time of replaying
// the fixtures as a fleet went there (issue 16, docs/performance.md). The decoder sees the same keys, values,
// errors and line numbers (FuzzTOMLText):
//   - outside a multi-line string such a line can only be a comment, so a file holding three
//     quotes in a row, double or single (a multi-line string's delimiter), is left whole;
//   - a comment's one possible error is a control character in it, so a comment holding one
//     (other than tab, or the CR of a CRLF) is left whole;
//   - line endings stay, so every line keeps its number, and a last line without one stays
//     whole.
func tomlText(data []byte) string {
	if bytes.Contains(data, []byte(`"""`)) || bytes.Contains(data, []byte(`'''`)) {
		return string(data)
	}
	var b strings.Builder
	b.Grow(len(data) / 8)
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line = data[:i+1]
		}
		data = data[len(line):]
		body := bytes.TrimLeft(line, " \t")
		if len(body) == 0 || body[0] != '#' {
			b.Write(line)
			continue
		}
		end := len(body)
		switch {
		case bytes.HasSuffix(body, []byte("\r\n")):
			end -= 2
		case body[end-1] == '\n':
			end--
		default:
			// The last line, without an ending: the decoder's EOF errors name the line of
			// the text before the end, so it stays.
			b.Write(line)
			continue
		}
		if !commentText(body[:end]) {
			b.Write(line)
			continue
		}
		b.Write(body[end:])
	}
	return b.String()
}

// commentText reports whether a comment (from its '#') holds no control character other than
// tab: what the decoder accepts in a comment.
func commentText(c []byte) bool {
	for _, x := range c {
		if x < 0x20 && x != '\t' || x == 0x7f {
			return false
		}
	}
	return true
}
