package parse

import (
	"bytes"
	"encoding/binary"
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
// the fixtures as a fleet went there (issue 16, docs/performance.md). The decoder sees the
// same keys, values, errors and line numbers (FuzzTOMLText):
//   - outside a multi-line string such a line can only be a comment, so a file holding three
//     quotes in a row, double or single (a multi-line string's delimiter), is left whole;
//   - a comment's one possible error is a control character in it, and the decoder refuses
//     one wherever it is, so a file holding one (other than tab, or the CR of a CRLF) is
//     left whole;
//   - line endings stay, so every line keeps its number, and a last line without one stays
//     whole (the decoder's EOF errors name the line of the text before the end).
func tomlText(data []byte) string {
	if bytes.Contains(data, []byte(`"""`)) || bytes.Contains(data, []byte(`'''`)) || !controlFree(data) {
		return string(data)
	}
	var b strings.Builder
	b.Grow(len(data) / 8)
	for len(data) > 0 {
		i := 0
		for i < len(data) && (data[i] == ' ' || data[i] == '\t') {
			i++
		}
		nl := bytes.IndexByte(data[i:], '\n')
		if nl < 0 {
			b.Write(data) // the last line, without an ending
			break
		}
		end := i + nl + 1 // after the '\n'
		if data[i] == '#' {
			keep := end - 1
			if keep > i && data[keep-1] == '\r' {
				keep--
			}
			b.Write(data[keep:end])
		} else {
			b.Write(data[:end])
		}
		data = data[end:]
	}
	return b.String()
}

// controlFree reports whether data holds no control character but tab, LF, and CR before LF:
// none the decoder refuses. Eight bytes at a time (the file is mostly comment text), each
// word with a byte below 0x20 or a DEL looked at byte by byte.
func controlFree(data []byte) bool {
	const ones, highs, space, del = 0x0101010101010101, 0x8080808080808080, 0x2020202020202020, 0x7f7f7f7f7f7f7f7f
	i := 0
	for ; i+8 <= len(data); i += 8 {
		x := binary.LittleEndian.Uint64(data[i:])
		d := x ^ del
		if (x-space)&^x&highs == 0 && (d-ones)&^d&highs == 0 {
			continue
		}
		if !controlFreeBytes(data, i, i+8) {
			return false
		}
	}
	return controlFreeBytes(data, i, len(data))
}

// controlFreeBytes is controlFree for data[from:to] (a CR may end it, its LF after).
func controlFreeBytes(data []byte, from, to int) bool {
	for j := from; j < to; j++ {
		switch c := data[j]; {
		case c == '\t' || c == '\n':
		case c == '\r':
			if j+1 == len(data) || data[j+1] != '\n' {
				return false
			}
		case c < 0x20 || c == 0x7f:
			return false
		}
	}
	return true
}
