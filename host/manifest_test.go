package host

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestParseManifestRefuses(t *testing.T) {
	for name, data := range map[string]string{
		"trailing garbage":              `{"version": 1} garbage`,
		"a second object":               `{"version": 1}{"version": 1}`,
		"negative uid":                  `{"version": 1, "files": {"/x": {"uid": -5}}}`,
		"uid over 32 bits":              `{"version": 1, "files": {"/x": {"gid": 1099511627776}}}`,
		"uid -1":                        `{"version": 1, "files": {"/x": {"uid": 4294967295}}}`,
		"negative self uid":             `{"version": 1, "self": {"uid": -1, "gid": 0}}`,
		"mode over 7777":                `{"version": 1, "files": {"/x": {"mode": "17777"}}}`,
		"relative path":                 `{"version": 1, "files": {"x": {}}}`,
		"long path":                     `{"version": 1, "files": {"/` + strings.Repeat("a", MaxPathLen) + `": {}}}`,
		"long link target":              `{"version": 1, "files": {"/x": {"type": "symlink", "target": "/` + strings.Repeat("a", MaxPathLen) + `"}}}`,
		"target on a file":              `{"version": 1, "files": {"/x": {"type": "file", "target": "/y"}}}`,
		"empty argv":                    `{"version": 1, "commands": [{"argv": []}]}`,
		"argv too long":                 `{"version": 1, "commands": [{"argv": [` + strings.Repeat(`"a",`, maxArgv) + `"a"]}]}`,
		"env is not an object":          `{"version": 1, "env": ["PATH"]}`,
		"unknown field in files":        `{"version": 1, "files": {"/x": {"owner": 0}}}`,
		"unknown command field":         `{"version": 1, "commands": [{"argv": ["x"], "pid": 1}]}`,
		"kernel too long":               `{"version": 1, "kernel": "` + strings.Repeat("6", 100) + `"}`,
		"denied directory":              `{"version": 1, "files": {"/x": {"type": "dir", "denied": true}}}`,
		"negative disk space":           `{"version": 1, "diskspace": {"/": {"size": 10, "avail": -1}}}`,
		"disk space over 2^62":          `{"version": 1, "diskspace": {"/": {"size": 4611686018427387905}}}`,
		"disk space of a relative path": `{"version": 1, "diskspace": {"var": {"size": 1}}}`,
		"unknown disk space field":      `{"version": 1, "diskspace": {"/": {"free": 1}}}`,
	} {
		if _, err := ParseManifest([]byte(data)); !errors.Is(err, ErrManifest) {
			t.Errorf("%s: %v, want ErrManifest", name, err)
		}
	}
	if _, err := ParseManifest([]byte("{\"version\": 1}\n\n")); err != nil {
		t.Errorf("trailing white space is fine: %v", err)
	}
}

// TestParseManifestBoundsListsWhileDecoding: a million commands took 478 MB before the count
// was checked; the limit now stops the decoding itself.
func TestParseManifestBoundsListsWhileDecoding(t *testing.T) {
	for name, elem := range map[string]func(i int) string{
		"commands": func(int) string { return `{"argv":["a"]}` },
		"files":    func(i int) string { return `"/` + itoa(i) + `":{}` },
		"env":      func(i int) string { return `"V` + itoa(i) + `":""` },
	} {
		var b bytes.Buffer
		open, close := "[", "]"
		if name != "commands" {
			open, close = "{", "}"
		}
		b.WriteString(`{"version": 1, "` + name + `": ` + open)
		for i := range 1_000_000 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(elem(i))
		}
		b.WriteString(close + "}")
		data := b.Bytes()
		if len(data) > MaxManifest {
			t.Fatalf("%s: the test manifest is over MaxManifest (%d bytes)", name, b.Len())
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := ParseManifest(data)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), "more than") {
			t.Errorf("%s: a million entries: %v, want the limit's error", name, err)
		}
		// The decoders' copies of the input (about 3 × 15 MB) and the entries up to the limit.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 96<<20 {
			t.Errorf("%s: decoding a %d-byte manifest allocated %d MB", name, len(data), alloc>>20)
		}
	}
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		if i /= 10; i == 0 {
			return string(b[n:])
		}
	}
}

// TestManifestAgreesWithTheTree: `"type": "dir"` on a regular file was accepted.
func TestManifestAgreesWithTheTree(t *testing.T) {
	for name, c := range map[string]struct {
		manifest string
		ok       bool
	}{
		"dir on a file":            {`{"version": 1, "files": {"/etc/subuid": {"type": "dir"}}}`, false},
		"file on a dir":            {`{"version": 1, "files": {"/etc": {"type": "file"}}}`, false},
		"symlink on a file":        {`{"version": 1, "files": {"/etc/subuid": {"type": "symlink", "target": "/x"}}}`, false},
		"char on a non-empty file": {`{"version": 1, "files": {"/etc/subuid": {"type": "char"}}}`, false},
		"other link target":        {`{"version": 1, "files": {"/etc/link": {"type": "symlink", "target": "/elsewhere"}}}`, false},
		"char placeholder":         {`{"version": 1, "files": {"/dev/net/tun": {"type": "char", "major": 10, "minor": 200}}}`, true},
		"only in the manifest":     {`{"version": 1, "files": {"/dev/fuse": {"type": "char"}}}`, true},
		"same type":                {`{"version": 1, "files": {"/etc": {"type": "dir", "mode": "0755"}, "/etc/link": {"type": "symlink", "target": "subuid"}}}`, true},
	} {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"etc/subuid": "alice:100000:65536\n", "dev/net/tun": "", ManifestName: c.manifest})
		if err := os.Symlink("subuid", filepath.Join(dir, "etc/link")); err != nil {
			t.Fatal(err)
		}
		for oname, open := range map[string]func(string) (*Recorded, error){"OpenTree": OpenTree, "LoadTree": LoadTree} {
			_, err := open(dir)
			if c.ok && err != nil {
				t.Errorf("%s, %s: %v", name, oname, err)
			}
			if !c.ok && !errors.Is(err, ErrManifest) {
				t.Errorf("%s, %s: %v, want ErrManifest", name, oname, err)
			}
		}
	}
}

// TestOpenTreeCapsTheManifest: a 2 GB manifest.json was read whole (2.13 GB) and accepted with
// trailing garbage. A sparse file over MaxManifest costs nothing to make.
func TestOpenTreeCapsTheManifest(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ManifestName)
	if err := os.WriteFile(p, []byte(`{"version": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 2<<30); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for name, open := range map[string]func(string) (*Recorded, error){"OpenTree": OpenTree, "LoadTree": LoadTree} {
		if _, err := open(dir); !errors.Is(err, ErrManifest) {
			t.Errorf("%s: a 2 GB manifest: %v, want ErrManifest", name, err)
		}
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4*MaxManifest {
		t.Errorf("refusing a 2 GB manifest allocated %d MB", alloc>>20)
	}
}

// FuzzManifestFast checks that scanManifest (what a manifest of a real host takes) decodes
// as the bounded decoder does: the same manifest, the same error. (Before validation, whose
// error, among several bad map entries, names the one Go's map order meets first.)
func FuzzManifestFast(f *testing.F) {
	for _, s := range []string{
		`{"version":1}`,
		`{"version":1,"env":{"A":"1","A":"2"},"files":{"/a":{"mode":"0755"},"/a":{"uid":1}},"fstypes":{"/":"ext4"}}`,
		`{"version":1,"files":{"/a":{}},"files":{"/b":{}},"env":{"A":"1"},"env":null}`,
		`{"version":1,"commands":[{"argv":["a","--version"],"stdout":"a 1\n"},{"argv":[]}]}`,
		`{"version":1,"commands":[],"files":{},"env":{},"fstypes":null}`,
		`{"version":1,"files":{"/a":{"typo":1}}}`, `{"version":1,"env":{"A":1}}`, `{"version":1,"env":[]}`,
		`{"version":1,"commands":[{"argv":["a"],"extra":true}]}`, `{"Version":1,"ENV":{"a":"b"}}`,
		`{"version":1,"self":{"uid":1},"self":{"name":"a"},"self":null,"version":null}`, `{"version":1} {}`,
		`{"\u0076ersion":1,"kernel":"6.1"}`, `[]`, `null`, `{"version":1,"commands":null,"commands":[{"argv":["b"]}]}`,
		`{"version":1,"files":{"/dev/x":{"type":"char","major":-0,"minor":4294967296,"uid":-1,"gid":01}}}`,
		`{"version":1,"files":{"/a":{"major":1e2}},"env":{"A":"\u00e9\ud83d\ude00\n\t\"\\\/\b\f\r\u0000"}}`,
		`{"version":1,"env":{"A":"\ud800"},"kernel":"\u12"}`, " {\"version\" : 1 , \"self\":{\"uid\":0,\"uid\":5}}\n ",
		`{"version":1,"commands":[{"argv":["a"],"argv":[],"exit":-3,"stdout":"<&>"}],"fstypes":{"/":"ext4","/":"xfs"}}`,
		`{"version":1,"files":{"/a":{"denied":true,"denied":false,"uid":1,"uid":2}},"user":"bob","executable":"/x"}`,
		`{"version":1,"kernel":"\xff"}`, `{"version":1,"kernel":"a` + "\x01" + `"}`, `{"version":9223372036854775807}`,
		`{"version":1,}`, `{"version":1 "kernel":""}`, `{"version":true}`, `{"version":"1"}`, `{"version":1.0}`,
		`{"version":1,"diskspace":{"/":{"size":1,"avail":2},"/":{"avail":3}},"diskspace":{"/var":{"SIZE":4}}}`,
		`{"version":1,"diskspace":{"/":{"size":-1,"avail":1.5}}}`, `{"version":1,"diskspace":{"/":null,"/a":{"typo":1}}}`,
		`{"version":1,"diskspace":{"/var/tmp":{"size":4611686018427387905,"avail":0}},"diskspace":null}`,
	} {
		f.Add([]byte(s))
	}
	for _, p := range []string{"../fixtures/debian-12-ok/manifest.json", "../fixtures/fedora-41-podman5-pasta-old/manifest.json"} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		whole, err1 := decodeManifest(data)
		defer func(v int) { fastManifestMax = v }(fastManifestMax)
		fastManifestMax = -1
		bounded, err2 := decodeManifest(data)
		if fmt.Sprint(err1) != fmt.Sprint(err2) || !reflect.DeepEqual(whole, bounded) {
			t.Fatalf("%q:\nwhole:   %+v %v\nbounded: %+v %v", data, whole, err1, bounded, err2)
		}
	})
}

// BenchmarkParseManifest reads the largest fixture's manifest, as every replayed host does.
func BenchmarkParseManifest(b *testing.B) {
	data, err := os.ReadFile("../fixtures/fedora-41-podman5-pasta-old/manifest.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseManifest(data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFixtureManifestsTakeTheScan: every manifest the snapshot command writes, as the
// fixtures hold them, is read by scanManifest, not by the slower bounded decoder.
func TestFixtureManifestsTakeTheScan(t *testing.T) {
	paths, err := filepath.Glob("../fixtures/*/manifest.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := scanManifest(data); !ok {
			t.Errorf("%s: scanManifest refused it", p)
		}
	}
}
