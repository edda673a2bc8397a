package parse

import (
	"errors"
	"fmt"
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
