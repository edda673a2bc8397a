package fixes

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// ErrUnsafe is returned (wrapped) by Build when a value from an intent cannot be put into a
// script safely: a newline or control character, a user name outside the shadow-utils
// pattern, a relative path. The plan is refused rather than guessed at: this text is what
// people paste into a root shell.
var ErrUnsafe = errors.New("unsafe value")

func unsafef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsafe, fmt.Sprintf(format, args...))
}

// userPattern is shadow-utils' portable user name (useradd(8), "Caveats"),
// [a-z_][a-z0-9_-]*[$]?, widened with the dots and upper case that directory accounts served
// by SSSD or LDAP carry (john.doe, JDoe) and that usermod accepts: such accounts are exactly
// the ones a fleet fixes. The `$` is for Samba machine accounts. Anything else (spaces,
// quotes, a leading dash) is refused rather than quoted.
var userPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9._-]*[$]?$`) })

// maxUserLen is LOGIN_NAME_MAX on Linux (256, including the NUL).
const maxUserLen = 255

func checkUser(name string) error {
	if name == "" {
		return unsafef("empty user name")
	}
	if len(name) > maxUserLen || !userPattern().MatchString(name) {
		return unsafef("user name %q is not a portable account name ([A-Za-z_][A-Za-z0-9._-]*[$]?)", name)
	}
	return nil
}

// CheckText accepts one line of human text (reasons, manual steps): valid UTF-8, no control
// characters. It ends up in `#` comments, where a newline would start a command.
func CheckText(what, s string) error {
	if !utf8.ValidString(s) {
		return unsafef("%s is not valid UTF-8: %q", what, s)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return unsafef("%s contains a control character: %q", what, s)
		}
	}
	if len(s) > 2000 {
		return unsafef("%s is longer than 2000 bytes", what)
	}
	return nil
}

// pathChars are the characters a binary or device path may hold. AppArmor treats
// * ? [ ] { } ^ @ and quotes specially in attachments, so those are refused rather than
// escaped; a space is allowed (the profile quotes the path).
func checkPath(what, p string) error {
	if err := CheckText(what, p); err != nil {
		return err
	}
	if !strings.HasPrefix(p, "/") {
		return unsafef("%s %q is not absolute", what, p)
	}
	for _, r := range p {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("/._+~- ", r)
		if !ok {
			return unsafef("%s %q contains %q, which is not allowed in a path the plan writes", what, p, r)
		}
	}
	for _, part := range strings.Split(p[1:], "/") {
		if part == "" || part == "." || part == ".." {
			return unsafef("%s %q is not a clean path", what, p)
		}
	}
	return nil
}

// checkFilePath accepts an absolute, clean path of printable characters: a path the script
// writes (it is shell-quoted there, so `@` in user@.service.d is fine).
func checkFilePath(p string) error {
	if err := CheckText("file path", p); err != nil {
		return err
	}
	if !strings.HasPrefix(p, "/") {
		return unsafef("file path %q is not absolute", p)
	}
	for _, part := range strings.Split(p[1:], "/") {
		if part == "" || part == "." || part == ".." {
			return unsafef("file path %q is not a clean path", p)
		}
	}
	return nil
}

var (
	sysctlKeyPattern   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$`) })
	sysctlValuePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_.:,/+-]+( [A-Za-z0-9_.:,/+-]+)*$`) })
	modePattern        = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^0?[0-7]{3}$`) })
	packagePattern     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9.+_-]*$`) })
)

// The names below are checked by hand, not by regular expressions: a counted repetition
// such as {0,63} compiles to one instruction per count, and compiling namePattern alone was
// 0.15 ms of every plan (issue 16). FuzzNamePatterns compares each with the expression it
// replaced.

// validModule: `^[A-Za-z0-9_-]{1,64}$`, a kernel module's name.
func validModule(s string) bool {
	return len(s) >= 1 && len(s) <= 64 && allBytes(s, func(c byte) bool {
		return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-'
	})
}

// validName: `^[a-z0-9][a-z0-9._-]{0,63}$`, a manual step's or a tool's name.
func validName(s string) bool {
	lowerDigit := func(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }
	return len(s) >= 1 && len(s) <= 64 && lowerDigit(s[0]) && allBytes(s[1:], func(c byte) bool {
		return lowerDigit(c) || c == '.' || c == '_' || c == '-'
	})
}

// validController: `^[a-z_]{1,32}$`, a cgroup controller's name.
func validController(s string) bool {
	return len(s) >= 1 && len(s) <= 32 && allBytes(s, func(c byte) bool { return 'a' <= c && c <= 'z' || c == '_' })
}

// allBytes says whether every byte of s satisfies ok.
func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func checkSysctl(key, value string) error {
	if !sysctlKeyPattern().MatchString(key) {
		return unsafef("sysctl key %q is not of the form a.b.c", key)
	}
	// sysctl.d(5) reads the rest of the line as the value; `#` or `;` would start a
	// comment and quotes are kept literally, so values are plain words and numbers.
	if !sysctlValuePattern().MatchString(value) {
		return unsafef("sysctl value %q for %s is not plain words and numbers", value, key)
	}
	return nil
}

// shellSafe are the bytes a word may hold and still need no quotes in POSIX sh.
func shellSafe(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("_./:=@%+,-", c) >= 0) {
			return false
		}
	}
	return true
}

// ShellQuote quotes one word for POSIX sh: bare when that is safe, else in single quotes (a quote
// inside becomes '\”). Callers have refused control characters already.
func ShellQuote(s string) string {
	if shellSafe(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shjoin quotes each word and joins them with spaces.
func shjoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = ShellQuote(a)
	}
	return strings.Join(q, " ")
}
