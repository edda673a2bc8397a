package host

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"unicode/utf8"
)

// Limits of a manifest (docs/bounded-inputs.md). A manifest comes with a recorded host, which
// may come from anyone (a bug report's archive), so every field is bounded while it is decoded,
// not after: a million-entry list is refused at its limit, before it is built. A snapshot of a
// real host is a few dozen kilobytes and holds a few dozen entries of each kind.
const (
	// MaxManifest caps manifest.json in bytes.
	MaxManifest = 16 << 20
	// MaxPathLen is the longest path a recorded host may name: PATH_MAX (4096, with its NUL)
	// on Linux; no longer path can be opened on a live host either.
	MaxPathLen = 4095

	maxManifestFiles   = 65_536
	maxManifestFSTypes = 65_536
	maxManifestSpace   = 4_096
	// maxSpace bounds a recorded size or room: 2⁶², far beyond any filesystem.
	maxSpace            = 1 << 62
	maxManifestEnv      = 4_096
	maxManifestCommands = 4_096
	maxArgv             = 256
	// maxEnvValue is MAX_ARG_STRLEN: the kernel refuses a longer environment string.
	maxEnvValue = 128 << 10
	maxName     = 256 // account names, env keys, filesystem type names, capability text
	// maxKernel is the size of utsname.release (65 with its NUL).
	maxKernel = 64
	// MaxID is the largest uid or gid: ids are 32-bit and (uid_t)-1 means "no id".
	MaxID = 1<<32 - 2
)

// ErrManifest is wrapped by every error of ParseManifest.
var ErrManifest = errors.New("parsing manifest")

func manifestErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrManifest, fmt.Sprintf(format, args...))
}

// ParseManifest decodes and validates a manifest. Unknown fields are errors (a typo in a
// fixture must not silently change what the probes see), and so is anything after the one
// JSON object. See docs/snapshot-format.md for the format and docs/bounded-inputs.md for the
// limits.
func ParseManifest(data []byte) (Manifest, error) {
	if len(data) > MaxManifest {
		return Manifest{}, manifestErr("%s is %d bytes, more than the limit of %d", ManifestName, len(data), MaxManifest)
	}
	m, err := decodeManifest(data)
	if err != nil {
		return Manifest{}, err
	}
	if err := m.validate(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// decodeManifest is ParseManifest's decoding: scanManifest when it can, else the bounded
// decoder, which gives every decoding error.
func decodeManifest(data []byte) (Manifest, error) {
	if len(data) <= fastManifestMax {
		if m, ok := scanManifest(data); ok {
			return m, nil
		}
	}
	var w manifestWire
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Manifest{}, fmt.Errorf("%w: %w", ErrManifest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Manifest{}, manifestErr("data after the manifest's JSON object (at byte %d)", dec.InputOffset())
	}
	m := Manifest{
		Version: w.Version, Kernel: w.Kernel, Self: w.Self, User: w.User, Executable: w.Executable,
		Env: w.Env, Files: w.Files, FSTypes: w.FSTypes, DiskSpace: w.DiskSpace,
	}
	for _, c := range w.Commands {
		m.Commands = append(m.Commands, Command{Argv: c.Argv, Stdout: c.Stdout, Stderr: c.Stderr, Exit: c.Exit, Error: c.Error})
	}
	return m, nil
}

// fastManifestMax is the size of manifest that scanManifest reads: that many bytes cannot build
// more than a few megabytes whatever they hold, so its maps and lists may be counted as they
// are built rather than refused before. A variable for FuzzManifestFast.
var fastManifestMax = 256 << 10

// validate checks what decoding alone does not.
func (m *Manifest) validate() error {
	if m.Version != ManifestVersion {
		return manifestErr("version %d is not supported (want %d)", m.Version, ManifestVersion)
	}
	if err := checkString("kernel", m.Kernel, maxKernel); err != nil {
		return err
	}
	if err := checkString("user", m.User, maxName); err != nil {
		return err
	}
	if err := checkString("self.name", m.Self.Name, maxName); err != nil {
		return err
	}
	if err := checkID("self.uid", m.Self.UID); err != nil {
		return err
	}
	if err := checkID("self.gid", m.Self.GID); err != nil {
		return err
	}
	if m.Executable != "" {
		if err := checkPath("executable", m.Executable); err != nil {
			return err
		}
	}
	for p, fm := range m.Files {
		if err := checkPath("files", p); err != nil {
			return err
		}
		if err := fm.validate(p); err != nil {
			return err
		}
	}
	for p, typ := range m.FSTypes {
		if err := checkPath("fstypes", p); err != nil {
			return err
		}
		if len(typ) > maxName {
			return checkString("fstypes "+p, typ, maxName)
		}
	}
	for p, ds := range m.DiskSpace {
		if err := checkPath("diskspace", p); err != nil {
			return err
		}
		if ds.Size < 0 || ds.Avail < 0 || ds.Size > maxSpace || ds.Avail > maxSpace {
			return manifestErr("diskspace %s: size %d, avail %d: want 0 to %d bytes", p, ds.Size, ds.Avail, int64(maxSpace))
		}
	}
	for k, v := range m.Env {
		if k == "" {
			return manifestErr("env: an empty variable name")
		}
		if err := checkString("env name", k, maxName); err != nil {
			return err
		}
		if len(v) > maxEnvValue {
			return manifestErr("env %s: value of %d bytes, more than %d", k, len(v), maxEnvValue)
		}
	}
	for i, c := range m.Commands {
		if len(c.Argv) == 0 {
			return manifestErr("command %d has an empty argv", i)
		}
		for _, a := range c.Argv {
			if len(a) > maxEnvValue {
				return manifestErr("command %d: an argument of %d bytes, more than %d", i, len(a), maxEnvValue)
			}
		}
		if len(c.Stdout) > MaxRead || len(c.Stderr) > MaxRead {
			return manifestErr("command %d: output over the read limit of %d bytes", i, MaxRead)
		}
		if len(c.Error) > MaxPathLen {
			return manifestErr("command %d: error text of %d bytes, more than %d", i, len(c.Error), MaxPathLen)
		}
	}
	return nil
}

func (fm FileMeta) validate(p string) error {
	if fm.Mode != "" {
		mode, err := strconv.ParseUint(fm.Mode, 8, 32)
		if err != nil || mode > 0o7777 {
			return manifestErr("file %s: mode %q is not octal permission bits (0 to 7777)", p, fm.Mode)
		}
	}
	switch fm.Type {
	case "", "file", "dir", "symlink", "char", "block", "socket", "fifo":
	default:
		return manifestErr("file %s: unknown type %q", p, fm.Type)
	}
	// The names are built only for an error: a manifest holds dozens of files (issue 16).
	if fm.UID != nil && !validID(*fm.UID) {
		return checkID("file "+p+": uid", *fm.UID)
	}
	if fm.GID != nil && !validID(*fm.GID) {
		return checkID("file "+p+": gid", *fm.GID)
	}
	if len(fm.Caps) > MaxPathLen {
		return checkString("file "+p+": caps", fm.Caps, MaxPathLen)
	}
	if len(fm.Target) > MaxPathLen {
		return manifestErr("file %s: link target of %d bytes, more than %d", p, len(fm.Target), MaxPathLen)
	}
	if fm.Target != "" && fm.Type != "symlink" {
		return manifestErr("file %s: a target, but type %q is not symlink", p, fm.Type)
	}
	if fm.Denied && fm.Type != "" && fm.Type != "file" {
		return manifestErr("file %s: denied, but type %q is not file", p, fm.Type)
	}
	return nil
}

func validID(id int) bool { return id >= 0 && int64(id) <= MaxID }

func checkID(what string, id int) error {
	if !validID(id) {
		return manifestErr("%s %d is not an id (0 to %d)", what, id, MaxID)
	}
	return nil
}

func checkString(what, s string, max int) error {
	if len(s) > max {
		return manifestErr("%s of %d bytes, more than %d", what, len(s), max)
	}
	return nil
}

func checkPath(what, p string) error {
	switch {
	case !path.IsAbs(p):
		return manifestErr("%s: %q is not an absolute path", what, p)
	case len(p) > MaxPathLen:
		return manifestErr("%s: a path of %d bytes, more than %d", what, len(p), MaxPathLen)
	case !utf8.ValidString(p):
		return manifestErr("%s: path %q is not UTF-8", what, p)
	}
	return nil
}

// validateTree checks that the manifest's types agree with the tree's: "type": "dir" on a
// regular file, or "file" on a directory, would make Stat and ReadFile tell two stories. The
// one allowed difference is the snapshot's placeholder: a device, socket or FIFO kept as an
// empty regular file (docs/snapshot-format.md).
func (m *Manifest) validateTree(fsys fs.FS) error {
	for p, fm := range m.Files {
		if fm.Type == "" {
			continue
		}
		st, err := fs.Lstat(fsys, rel(p))
		if err != nil {
			continue // only in the manifest
		}
		tree := ModeKind(st.Mode())
		switch {
		case tree == fm.Type:
		case tree == "file" && specialType(fm.Type) && st.Size() == 0:
		default:
			return manifestErr("file %s: type %q, but the tree holds a %s", p, fm.Type, tree)
		}
		if tree == "symlink" && fm.Target != "" {
			if t, err := fs.ReadLink(fsys, rel(p)); err == nil && t != fm.Target {
				return manifestErr("file %s: target %q, but the tree's link points to %q", p, fm.Target, t)
			}
		}
	}
	return nil
}

// manifestWire is Manifest as decoded: its lists and maps decode element by element and stop
// at their limits (see boundedMap, boundedList).
type manifestWire struct {
	Version    int                                `json:"version"`
	Kernel     string                             `json:"kernel"`
	Self       Identity                           `json:"self"`
	User       string                             `json:"user,omitempty"`
	Executable string                             `json:"executable,omitempty"`
	Env        boundedMap[string, envLimit]       `json:"env,omitempty"`
	Files      boundedMap[FileMeta, fileLim]      `json:"files,omitempty"`
	FSTypes    boundedMap[string, fsLimit]        `json:"fstypes,omitempty"`
	DiskSpace  boundedMap[DiskSpace, spaceLimit]  `json:"diskspace,omitempty"`
	Commands   boundedList[commandWire, cmdLimit] `json:"commands,omitempty"`
}

// The limits, as types so that boundedMap and boundedList carry them.
type (
	envLimit   struct{}
	fileLim    struct{}
	fsLimit    struct{}
	spaceLimit struct{}
	cmdLimit   struct{}
	argvLim    struct{}
)

type limit interface{ max() (int, string) }

func (envLimit) max() (int, string)   { return maxManifestEnv, "env" }
func (fileLim) max() (int, string)    { return maxManifestFiles, "files" }
func (fsLimit) max() (int, string)    { return maxManifestFSTypes, "fstypes" }
func (spaceLimit) max() (int, string) { return maxManifestSpace, "diskspace" }
func (cmdLimit) max() (int, string)   { return maxManifestCommands, "commands" }
func (argvLim) max() (int, string)    { return maxArgv, "argv" }

// decodeBounded decodes the JSON array (open '[') or object (open '{') in data one element
// at a time: each calls elem with a decoder positioned at it (for an object, after its key,
// which elem is given), after checking that fewer than L's limit came before. A JSON null is
// null true and no element.
func decodeBounded[L limit](data []byte, open json.Delim, elem func(dec *json.Decoder, key string) error) (null bool, err error) {
	var l L
	max, what := l.max()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	tok, err := dec.Token()
	if err != nil || tok == nil {
		return tok == nil && err == nil, err
	}
	if tok != open {
		return false, fmt.Errorf("%s: want a JSON %c…", what, open)
	}
	for n := 0; dec.More(); n++ {
		if n == max {
			return false, fmt.Errorf("%s: more than %d entries", what, max)
		}
		key := ""
		if open == '{' {
			tok, err := dec.Token()
			if err != nil {
				return false, err
			}
			key, _ = tok.(string)
		}
		if err := elem(dec, key); err != nil {
			if open == '{' {
				return false, fmt.Errorf("%s %q: %w", what, key, err)
			}
			return false, fmt.Errorf("%s %d: %w", what, n, err)
		}
	}
	return false, nil
}

// boundedMap is a JSON object of at most L's limit of members, decoded one member at a time.
type boundedMap[V any, L limit] map[string]V

func (m *boundedMap[V, L]) UnmarshalJSON(data []byte) error {
	out := map[string]V{}
	null, err := decodeBounded[L](data, '{', func(dec *json.Decoder, key string) error {
		var v V
		err := dec.Decode(&v)
		out[key] = v
		return err
	})
	if null {
		out = nil
	}
	*m = out
	return err
}

// boundedList is a JSON array of at most L's limit of elements, decoded one at a time.
type boundedList[V any, L limit] []V

func (s *boundedList[V, L]) UnmarshalJSON(data []byte) error {
	var out []V
	_, err := decodeBounded[L](data, '[', func(dec *json.Decoder, _ string) error {
		var v V
		err := dec.Decode(&v)
		out = append(out, v)
		return err
	})
	*s = out
	return err
}

// commandWire is Command as decoded, with a bounded argv.
type commandWire struct {
	Argv   boundedList[string, argvLim] `json:"argv"`
	Stdout string                       `json:"stdout,omitempty"`
	Stderr string                       `json:"stderr,omitempty"`
	Exit   int                          `json:"exit,omitempty"`
	Error  string                       `json:"error,omitempty"`
}

// ModeKind names the type bits of a mode as the manifest does.
func ModeKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsDir():
		return "dir"
	case m&fs.ModeDevice != 0 && m&fs.ModeCharDevice != 0:
		return "char"
	case m&fs.ModeDevice != 0:
		return "block"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	}
	return "file"
}
