package parse

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"path"
	"slices"
	"strings"
)

// ModuleName normalises a kernel module name the way modprobe does: "-" and "_" are the same
// character in module names (nf-tables.ko is nf_tables), and the directory, the .ko suffix and
// any compression suffix (.ko.xz, .ko.zst) are not part of the name. It returns "" for
// anything that cannot be a module name (module names are letters, digits and _).
func ModuleName(s string) string {
	s = path.Base(strings.TrimSpace(s))
	if i := strings.Index(s, ".ko"); i >= 0 && (i+3 == len(s) || s[i+3] == '.') {
		s = s[:i]
	}
	s = strings.ReplaceAll(s, "-", "_")
	if s == "" {
		return ""
	}
	for _, c := range s {
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return ""
		}
	}
	return s
}

// ParseProcModules returns the names of the loaded modules in /proc/modules
// ("nf_tables 348160 12 nft_chain_nat,nft_compat, Live 0x0000000000000000"), normalised with
// ModuleName. Built-in modules are never listed there.
func ParseProcModules(data []byte) map[string]bool {
	mods := map[string]bool{}
	for line := range bytes.Lines(data) {
		f := bytes.Fields(line)
		if len(f) == 0 {
			continue
		}
		if n := ModuleName(string(f[0])); n != "" {
			mods[n] = true
		}
	}
	return mods
}

// ParseModulesBuiltin returns the names of the modules compiled into the kernel, from
// /lib/modules/RELEASE/modules.builtin: one path per line ("kernel/net/ipv4/netfilter/ip_tables.ko").
func ParseModulesBuiltin(data []byte) map[string]bool {
	mods := map[string]bool{}
	for line := range bytes.Lines(data) {
		s := strings.TrimSpace(string(line))
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if n := ModuleName(s); n != "" {
			mods[n] = true
		}
	}
	return mods
}

// KernelConfig is a kernel build configuration: symbol ("CONFIG_TUN") to value ("y", "m", a
// number or a quoted string). Symbols written "# CONFIG_X is not set" have the value "n". A
// config parsed from its text is a map; one read back from an account's cache
// (DecodeKernelConfig) is a table sorted by symbol, searched at each lookup: the probes ask
// it for a dozen symbols, and building a map of a config's 2,600 (here) to 10,000 symbols
// cost more than all the lookups (issue 16). A nil *KernelConfig is an empty config.
type KernelConfig struct {
	m    map[string]string // parsed
	syms []KernelSymbol    // decoded: sorted by Name, each name once
}

// KernelSymbol is one symbol of a config and its value.
type KernelSymbol struct{ Name, Value string }

// Value is the value of symbol, and whether the config mentions it.
func (c *KernelConfig) Value(symbol string) (string, bool) {
	switch {
	case c == nil:
		return "", false
	case c.m != nil:
		v, ok := c.m[symbol]
		return v, ok
	}
	i, ok := slices.BinarySearchFunc(c.syms, symbol, func(s KernelSymbol, name string) int { return strings.Compare(s.Name, name) })
	if !ok {
		return "", false
	}
	return c.syms[i].Value, true
}

// Tristate is the value of a tristate symbol: "y" (built in), "m" (a module), "n" (not set or
// not mentioned).
func (c *KernelConfig) Tristate(symbol string) string {
	switch v, _ := c.Value(symbol); v {
	case "y", "m":
		return v
	}
	return "n"
}

// Has reports whether the symbol appears at all (set or "is not set"). A symbol a config does
// not mention may not exist in that kernel version.
func (c *KernelConfig) Has(symbol string) bool {
	_, ok := c.Value(symbol)
	return ok
}

// All yields every symbol and its value, in the order of the symbols.
func (c *KernelConfig) All() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		switch {
		case c == nil:
		case c.m != nil:
			for _, k := range slices.Sorted(maps.Keys(c.m)) {
				if !yield(k, c.m[k]) {
					return
				}
			}
		default:
			for _, s := range c.syms {
				if !yield(s.Name, s.Value) {
					return
				}
			}
		}
	}
}

// AppendBinary appends the config in the form DecodeKernelConfig reads back: each symbol and
// its value, in the order of the symbols, each as a uvarint length and its bytes. An
// account's cache keeps it between runs (facts.Env's module tables, host.Deriver):
// decompressing and parsing /proc/config.gz was ~0.7 ms of a static check here, 4,000 lines,
// and more on a distribution's 10,000 (issue 16). It never fails; the error is
// encoding.BinaryAppender's.
func (c *KernelConfig) AppendBinary(b []byte) ([]byte, error) {
	for sym, v := range c.All() {
		b = appendField(appendField(b, sym), v)
	}
	return b, nil
}

// errKernelConfigBinary: bytes that KernelConfig.AppendBinary did not write.
var errKernelConfigBinary = errors.New("not a kernel config's binary form")

// DecodeKernelConfig reads what KernelConfig.AppendBinary wrote. Anything else (a length past
// the end, a symbol without the CONFIG_ prefix, symbols out of order or twice, no symbol at
// all) is an error, and the caller parses the config again. The symbols and values are substrings of one string of
// b's bytes.
func DecodeKernelConfig(b []byte) (*KernelConfig, error) {
	r := binReader{string(b)}
	cfg := &KernelConfig{syms: make([]KernelSymbol, 0, len(r.s)/24)}
	for len(r.s) > 0 {
		sym, ok := r.field()
		if !ok || !strings.HasPrefix(sym, "CONFIG_") {
			return nil, errKernelConfigBinary
		}
		v, ok := r.field()
		if n := len(cfg.syms); !ok || n > 0 && cfg.syms[n-1].Name >= sym {
			return nil, errKernelConfigBinary
		}
		cfg.syms = append(cfg.syms, KernelSymbol{sym, v})
	}
	if len(cfg.syms) == 0 {
		return nil, errKernelConfigBinary
	}
	return cfg, nil
}

// maxConfig bounds a decompressed kernel config: real ones are 100–300 KiB; a hostile
// /proc/config.gz in a snapshot must not inflate without limit.
const maxConfig = 16 << 20

// ErrNotKernelConfig is returned for data with no CONFIG_ lines at all.
var ErrNotKernelConfig = errors.New("not a kernel config")

// ParseKernelConfig parses a kernel config: /proc/config.gz (gzip, CONFIG_IKCONFIG_PROC) or
// /boot/config-RELEASE (plain text).
func ParseKernelConfig(data []byte) (*KernelConfig, error) {
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("decompressing the kernel config: %w", err)
		}
		// gzip's trailer gives the uncompressed size (mod 2³²): a hint for one buffer instead
		// of io.ReadAll's doubling from 512 bytes. The limit is what bounds the read.
		hint := 0
		if n := len(data); n >= 4 {
			if isize := int(binary.LittleEndian.Uint32(data[n-4:])); isize <= maxConfig {
				hint = isize
			}
		}
		buf := bytes.NewBuffer(make([]byte, 0, hint+bytes.MinRead+1))
		if _, err := buf.ReadFrom(io.LimitReader(zr, maxConfig+1)); err != nil {
			return nil, fmt.Errorf("decompressing the kernel config: %w", err)
		}
		plain := buf.Bytes()
		if len(plain) > maxConfig {
			return nil, fmt.Errorf("decompressing the kernel config: larger than %d bytes", maxConfig)
		}
		data = plain
	}
	// One string per symbol kept and none per line (a distribution's config has 10,000 lines,
	// and a static check parses it: issue 16); "y", "m" and "n" are shared. A symbol set twice
	// has its last value.
	cfg := make(map[string]string, bytes.Count(data, []byte("\n"))/2)
	for line := range bytes.Lines(data) {
		s := bytes.TrimSpace(line)
		if rest, ok := bytes.CutPrefix(s, []byte("# ")); ok {
			if sym, ok := bytes.CutSuffix(rest, []byte(" is not set")); ok && bytes.HasPrefix(sym, []byte("CONFIG_")) && !bytes.ContainsAny(sym, " \t") {
				cfg[string(sym)] = "n"
			}
			continue
		}
		sym, val, ok := bytes.Cut(s, []byte("="))
		if !ok || !bytes.HasPrefix(sym, []byte("CONFIG_")) || bytes.ContainsAny(sym, " \t") {
			continue
		}
		switch string(val) {
		case "y":
			cfg[string(sym)] = "y"
		case "m":
			cfg[string(sym)] = "m"
		default:
			cfg[string(sym)] = string(val)
		}
	}
	if len(cfg) == 0 {
		return nil, ErrNotKernelConfig
	}
	return &KernelConfig{m: cfg}, nil
}
