package report

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixes"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// jsonLayouts are the three ways the reports are written: jsonl (compact), --output json
// (two spaces), and an element of a fleet's --output json (two spaces, after two).
var jsonLayouts = []struct{ prefix, indent string }{{"", ""}, {"", "  "}, {"  ", "  "}}

// checkJSONL compares the hand writer with encoding/json on one jsonl object, in every
// layout, appending after existing bytes; and on its report alone.
func checkJSONL(t *testing.T, line *jsonlReport) {
	t.Helper()
	head := []byte("head\n")
	for _, l := range jsonLayouts {
		var want bytes.Buffer
		werr := encodeJSON(&want, line, l.prefix, l.indent)
		got, ok := appendJSONL(bytes.Clone(head), line, nil, l.prefix, l.indent)
		if werr != nil {
			if ok {
				t.Fatalf("layout %q: encoding/json fails (%v), the hand writer wrote\n%s", l, werr, got)
			}
			continue
		}
		if !ok || !bytes.Equal(got, append(bytes.Clone(head), want.Bytes()...)) {
			t.Fatalf("layout %q: %#v\nencoding/json:\n%q\nhand writer (ok %v):\n%q", l, line, want.String(), ok, got[min(len(got), len(head)):])
		}
		if line.jsonReport == nil {
			continue
		}
		want.Reset()
		werr = encodeJSON(&want, line.jsonReport, l.prefix, l.indent)
		got, ok = appendJSONReport(nil, line.jsonReport, nil, l.prefix, l.indent)
		if (werr == nil) != ok || ok && !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("layout %q, report alone: encoding/json (%v):\n%q\nhand writer (ok %v):\n%q", l, werr, want.String(), ok, got)
		}
	}
}

// planReport is sampleReport with the plan its intents give on a Debian host.
func planReport(tb testing.TB) *Report {
	tb.Helper()
	r := sampleReport(finding.Fail)
	h := host.NewMemory().File("/etc/passwd", "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n").Host()
	p, err := fixes.Build(fixes.Input{Requests: fixes.RequestsFrom(r.Results), Env: &facts.Env{Distro: osRelease(tb, releases["debian-12"]), Host: h}})
	if err != nil {
		tb.Fatal(err)
	}
	r.Plan = &p
	r.Results[3].Engine = &finding.Engine{Name: "podman", Installed: true, Version: "4.3.1", Reasons: []string{"a <b> & c"}, BlockedBy: []string{"net.tun"}}
	r.Results[4].Engine = &finding.Engine{Name: "docker"}
	r.Results[5].Ignored = true
	r.Summary.Ignored = 1
	return r
}

// TestJSONWriterMatchesEncodingJSON: the reports the tests know, byte for byte as
// encoding/json writes them, through the renderers too.
func TestJSONWriterMatchesEncodingJSON(t *testing.T) {
	empty := okReport()
	empty.Plan = &fixes.Plan{}
	// Every byte, and the texts escapers get wrong, in every string of a result.
	var every []byte
	for c := range 256 {
		every = append(every, 'x', byte(c))
	}
	hostile := &Report{Notes: hostileStrings}
	for _, s := range append(slices.Clone(hostileStrings), string(every)) {
		hostile.Results = append(hostile.Results, finding.Result{ID: s, Title: s, Summary: s, Details: []string{s},
			Evidence: []finding.Evidence{{Source: s, Value: s}}, Engine: &finding.Engine{Name: s, Reasons: []string{s}}})
	}
	reports := map[string]*Report{
		"sample": sampleReport(finding.Fail), "warn": sampleReport(finding.Warn), "ok": okReport(),
		"plan": planReport(t), "empty plan": empty, "zero": {}, "no results": {Results: []finding.Result{}},
		"hostile": hostile,
	}
	for name, r := range reports {
		for _, root := range []string{"", "snaps/\x1b[31mred\"q\\uote\nd <&>\u2028\xff"} {
			line := newJSONL(root, r, nil)
			checkJSONL(t, &line)
			for _, l := range jsonLayouts {
				var want, got bytes.Buffer
				if err := encodeJSON(&want, line, l.prefix, l.indent); err != nil {
					t.Fatal(err)
				}
				if err := RenderFleet("jsonl", &got, &Fleet{Hosts: []FleetHost{{Root: root, Report: r}}}, Options{}); err != nil {
					t.Fatal(err)
				}
				if l.indent == "" && got.String() != want.String() {
					t.Errorf("%s: fleet jsonl:\n%s\nwant\n%s", name, got.String(), want.String())
				}
			}
		}
		checkRenderers(t, r, "snaps/<&>\xff")
	}
	for _, err := range []error{errors.New("opening recorded host: unexpected EOF \xff\u2029"), errors.New("")} {
		for _, root := range []string{"", "a"} {
			line := newJSONL(root, nil, err)
			checkJSONL(t, &line)
		}
	}
	// The fleet's array, on a writer that reuses its buffers from host to host.
	f := sampleFleet()
	f.Hosts = append(f.Hosts, FleetHost{Root: "p", Report: planReport(t)}, FleetHost{Root: "", Err: errors.New("")})
	var want bytes.Buffer
	objs := []jsonlReport{}
	for _, h := range f.Hosts {
		objs = append(objs, newJSONL(h.Root, h.Report, h.Err))
	}
	if err := encodeJSON(&want, objs, "", "  "); err != nil {
		t.Fatal(err)
	}
	if got := renderFleet(t, "json", f, Options{}); got != want.String() {
		t.Errorf("fleet json:\n%s\nwant\n%s", got, want.String())
	}
}

// TestJSONStringEveryByteEveryLane: each byte, and each of U+2028, U+FFFD and a truncated
// sequence, at every position of the eight-byte words the string writer skips whole, as
// encoding/json writes it.
func TestJSONStringEveryByteEveryLane(t *testing.T) {
	var specials []string
	for c := range 256 {
		specials = append(specials, string([]byte{byte(c)}))
	}
	specials = append(specials, "\u2028", "\ufffd", "\xe2\x80", "é", "\U0001f600")
	for _, sp := range specials {
		for at := range 17 {
			s := strings.Repeat("a", at) + sp + strings.Repeat("b", 17-at)
			var want bytes.Buffer
			if err := encodeJSON(&want, s, "", ""); err != nil {
				t.Fatal(err)
			}
			if got := appendJSONString(nil, s); string(got)+"\n" != want.String() {
				t.Fatalf("%q: got %s, want %s", s, got, want.String())
			}
		}
	}
}

// TestJSONWriterNumbers: duration_ms in every form encoding/json gives a float64 (the 'e'
// form below 1e-6 and from 1e21, its exponent unpadded), and its error on NaN and ±Inf.
func TestJSONWriterNumbers(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, 0.001, 1.234, 1e-6, 9.99e-7, 1e-7, 1.5e-10, 1e-100,
		5e-324, 1e20, 1e21, 9.999999999999999e20, 1.5e300, math.MaxFloat64, -1e21, 123456789.123, 0.1 + 0.2,
		math.NaN(), math.Inf(1), math.Inf(-1)} {
		line := jsonlReport{jsonReport: &jsonReport{Results: []jsonResult{{DurationMS: f}}}}
		checkJSONL(t, &line)
	}
	var b bytes.Buffer
	if err := renderJSON(&b, &Report{Results: []finding.Result{{ID: "x", Duration: 1}}}, Options{}); err != nil || !strings.Contains(b.String(), "\"duration_ms\": 0\n") {
		t.Errorf("renderJSON: %v\n%s", err, b.String())
	}
}

// handWrittenFields are the fields jsonenc.go writes, type by type, with their tags. A field
// added to one of these types must be written by jsonenc.go (and added here): encoding/json
// would have written it at once.
const handWrittenFields = `finding.Engine.BlockedBy []string json:"blocked_by,omitempty"
finding.Engine.Installed bool json:"installed"
finding.Engine.Name string json:"name"
finding.Engine.Network string json:"network"
finding.Engine.Ready bool json:"ready"
finding.Engine.Reasons []string json:"reasons"
finding.Engine.Runtime string json:"runtime"
finding.Engine.Storage string json:"storage"
finding.Engine.Version string json:"version"
finding.Evidence.Source string json:"source"
finding.Evidence.Value string json:"value"
finding.Summary.Fail int json:"fail"
finding.Summary.Ignored int json:"ignored,omitempty"
finding.Summary.Pass int json:"pass"
finding.Summary.Skip int json:"skip"
finding.Summary.Warn int json:"warn"
fixes.File.Content string json:"content"
fixes.File.Mode string json:"mode"
fixes.File.Path string json:"path"
fixes.Plan.Steps []fixes.Step json:"steps"
fixes.Step.As string json:"as,omitempty"
fixes.Step.Commands []string json:"commands"
fixes.Step.Files []fixes.File json:"files,omitempty"
fixes.Step.Fixes []string json:"fixes"
fixes.Step.ID string json:"id"
fixes.Step.Intents []string json:"intents,omitempty"
fixes.Step.Manual bool json:"manual,omitempty"
fixes.Step.Optional bool json:"optional,omitempty"
fixes.Step.Relogin bool json:"relogin"
fixes.Step.Title string json:"title"
fixes.Step.Unless string json:"unless,omitempty"
fixes.Step.Why []string json:"why,omitempty"
report.DistroInfo.ID string json:"id"
report.DistroInfo.PrettyName string json:"pretty_name"
report.DistroInfo.VersionID string json:"version_id"
report.HostInfo.Distro report.DistroInfo json:"distro"
report.HostInfo.Kernel string json:"kernel"
report.HostInfo.User report.UserInfo json:"user"
report.Tool.Go string json:"go,omitempty"
report.Tool.Name string json:"name"
report.Tool.Revision string json:"revision,omitempty"
report.Tool.Version string json:"version"
report.UserInfo.Home string json:"home"
report.UserInfo.Name string json:"name"
report.UserInfo.UID int json:"uid"
report.jsonReport.FailOn finding.Status json:"fail_on"
report.jsonReport.Host report.HostInfo json:"host"
report.jsonReport.Notes []string json:"notes,omitempty"
report.jsonReport.OK bool json:"ok"
report.jsonReport.Plan *fixes.Plan json:"plan"
report.jsonReport.Results []report.jsonResult json:"results"
report.jsonReport.Schema string json:"schema"
report.jsonReport.Summary finding.Summary json:"summary"
report.jsonReport.Tool report.Tool json:"tool"
report.jsonResult.Details []string json:"details"
report.jsonResult.DurationMS float64 json:"duration_ms"
report.jsonResult.Engine *finding.Engine json:"engine,omitempty"
report.jsonResult.Evidence []finding.Evidence json:"evidence"
report.jsonResult.Fixes []string json:"fixes"
report.jsonResult.ID string json:"id"
report.jsonResult.Ignored bool json:"ignored,omitempty"
report.jsonResult.Status finding.Status json:"status"
report.jsonResult.Summary string json:"summary"
report.jsonResult.Title string json:"title"
report.jsonlReport.Error string json:"error,omitempty"
report.jsonlReport.Root string json:"root,omitempty"
report.jsonlReport.jsonReport *report.jsonReport embedded`

// TestJSONWriterKnowsEveryField: every type the JSON report is made of, walked by
// reflection, has exactly the fields jsonenc.go writes, and none marshals itself (a
// MarshalJSON or MarshalText method encoding/json would call and the hand writer would not).
func TestJSONWriterKnowsEveryField(t *testing.T) {
	var got []string
	seen := map[reflect.Type]bool{}
	marshaler := reflect.TypeFor[json.Marshaler]()
	textMarshaler := reflect.TypeFor[encoding.TextMarshaler]()
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		if seen[typ] {
			return
		}
		seen[typ] = true
		if typ.Implements(marshaler) || typ.Implements(textMarshaler) || reflect.PointerTo(typ).Implements(marshaler) || reflect.PointerTo(typ).Implements(textMarshaler) {
			t.Errorf("%v marshals itself: jsonenc.go must write what its method writes", typ)
		}
		switch typ.Kind() {
		case reflect.Pointer, reflect.Slice:
			walk(typ.Elem())
		case reflect.Struct:
			for i := range typ.NumField() {
				f := typ.Field(i)
				switch {
				case f.Anonymous:
					got = append(got, fmt.Sprintf("%v.%s %v embedded", typ, f.Name, f.Type))
				case !f.IsExported():
					continue // encoding/json leaves it out too
				default:
					got = append(got, fmt.Sprintf("%v.%s %v %s", typ, f.Name, f.Type, f.Tag))
				}
				walk(f.Type)
			}
		case reflect.String, reflect.Bool, reflect.Int, reflect.Float64:
		default:
			t.Errorf("%v: jsonenc.go writes no %v", typ, typ.Kind())
		}
	}
	walk(reflect.TypeFor[jsonlReport]())
	slices.Sort(got)
	if want := handWrittenFields; strings.Join(got, "\n") != want {
		t.Errorf("the JSON report's types changed: teach jsonenc.go the change, then update handWrittenFields.\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
}

// fuzzBytes hands out the fuzzer's bytes as decisions; zeros once they run out.
type fuzzBytes []byte

func (d *fuzzBytes) next() byte {
	if len(*d) == 0 {
		return 0
	}
	b := (*d)[0]
	*d = (*d)[1:]
	return b
}

func (d *fuzzBytes) take(n int) []byte {
	n = min(n, len(*d))
	b := (*d)[:n]
	*d = (*d)[n:]
	return b
}

// hostileStrings are the texts a string escaper gets wrong: HTML, JavaScript's line ends,
// invalid and truncated UTF-8, UTF-8 encoded surrogates, every kind of control character.
var hostileStrings = []string{
	"<b>&amp;</b>", "\u2028\u2029", "a\u2028b\u2029c", "\xff", "\xfe\xff", "a\xe2\x80", "\xe2\x80\xa8", "\xed\xa0\x80",
	"\x00\x01\x1f\x7f", "\b\f\n\r\t\v", "\ufffd", `"\/`, "é☃😀", "\x1b[31mred\x1b[0m", "\U0010ffff", "\xf4\x90\x80\x80", "\u00a0\ufeff",
}

// fillRandom sets every field encoding/json writes of v (and embedded ones) from d: nil and
// empty slices, nil pointers, hostile and raw strings, numbers at encoding/json's cutoffs.
func fillRandom(t *testing.T, d *fuzzBytes, v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		switch b := d.next(); b % 4 {
		case 0:
			v.SetString("")
		case 1:
			v.SetString(hostileStrings[int(d.next())%len(hostileStrings)])
		default:
			v.SetString(string(d.take(int(b >> 2))))
		}
	case reflect.Bool:
		v.SetBool(d.next()&1 == 1)
	case reflect.Int, reflect.Int64:
		switch b := d.next(); b % 4 {
		case 0:
			v.SetInt(0)
		case 1:
			v.SetInt(int64(int8(d.next())))
		case 2:
			v.SetInt([]int64{math.MinInt64, math.MaxInt64, -1, 1 << 40}[d.next()%4])
		default:
			v.SetInt(int64(binary.LittleEndian.Uint64(append(d.take(8), make([]byte, 8)...))))
		}
	case reflect.Float64:
		switch b := d.next(); b % 4 {
		case 0:
			v.SetFloat([]float64{0, math.Copysign(0, -1), 1e-6, 1e-7, 1e21, 1e20, 5e-324, math.NaN(), math.Inf(-1)}[int(d.next())%9])
		case 1: // a duration as toJSON rounds it
			v.SetFloat(math.Round(float64(int64(binary.LittleEndian.Uint64(append(d.take(8), make([]byte, 8)...))))) / 1000)
		default:
			v.SetFloat(math.Float64frombits(binary.LittleEndian.Uint64(append(d.take(8), make([]byte, 8)...))))
		}
	case reflect.Slice:
		switch n := int(d.next() % 5); n {
		case 0:
			v.SetZero()
		default:
			s := reflect.MakeSlice(v.Type(), n-1, n-1)
			for i := range n - 1 {
				fillRandom(t, d, s.Index(i))
			}
			v.Set(s)
		}
	case reflect.Pointer:
		if d.next()&1 == 0 {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		fillRandom(t, d, p.Elem())
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			f, fv := v.Type().Field(i), v.Field(i)
			switch {
			case f.Anonymous && !f.IsExported(): // *jsonReport in jsonlReport
				fv = reflect.NewAt(fv.Type(), unsafe.Pointer(fv.UnsafeAddr())).Elem()
			case !f.IsExported():
				continue
			}
			fillRandom(t, d, fv)
		}
	case reflect.Interface: // finding.Result.Err: not in the JSON
		v.SetZero()
	default:
		t.Fatalf("fillRandom: no %v (%v)", v.Kind(), v.Type())
	}
}

// FuzzReportJSON: a jsonl object made from the fuzzer's bytes, every field set or left nil
// or empty by them, is written by the hand writer exactly as encoding/json writes it.
func FuzzReportJSON(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x01\x01\x01\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05"))
	f.Add(bytes.Repeat([]byte{0x03, 0x41, 0xe2, 0x80, 0xa8, 0xff, 0x3c, 0x26}, 64))
	f.Add(bytes.Repeat([]byte{0xff}, 512))
	f.Add(bytes.Repeat([]byte{0x01, 0x02, 0x04, 0x09}, 200))
	var sample bytes.Buffer
	_ = encodeJSON(&sample, newJSONL("r", planReport(f), nil), "", "")
	f.Add(sample.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		d := fuzzBytes(data)
		var line jsonlReport
		fillRandom(t, &d, reflect.ValueOf(&line).Elem())
		checkJSONL(t, &line)
		// The same bytes as a Report, through the renderers, which convert each result
		// as they write it.
		d = fuzzBytes(data)
		var r Report
		fillRandom(t, &d, reflect.ValueOf(&r).Elem())
		checkRenderers(t, &r, "fuzz/root\u2028")
	})
}

// checkRenderers compares --output json and jsonl, and a fleet's json and jsonl of one
// host, with encoding/json's writing of toJSON(r) and newJSONL.
func checkRenderers(t *testing.T, r *Report, root string) {
	t.Helper()
	for format, indent := range map[string]string{"json": "  ", "jsonl": ""} {
		var want, got bytes.Buffer
		werr := encodeJSON(&want, toJSON(r), "", indent)
		gerr := Render(format, &got, r, Options{})
		if fmt.Sprint(werr) != fmt.Sprint(gerr) || werr == nil && got.String() != want.String() {
			t.Fatalf("--output %s: got (%v)\n%s\nwant (%v)\n%s", format, gerr, got.String(), werr, want.String())
		}
	}
	for _, format := range []string{"json", "jsonl"} {
		var want, got bytes.Buffer
		var werr error
		if format == "jsonl" {
			werr = encodeJSON(&want, newJSONL(root, r, nil), "", "")
		} else {
			werr = encodeJSON(&want, []jsonlReport{newJSONL(root, r, nil)}, "", "  ")
		}
		gerr := RenderFleet(format, &got, &Fleet{Hosts: []FleetHost{{Root: root, Report: r}}}, Options{})
		if fmt.Sprint(werr) != fmt.Sprint(gerr) || werr == nil && got.String() != want.String() {
			t.Fatalf("fleet --output %s: got (%v)\n%s\nwant (%v)\n%s", format, gerr, got.String(), werr, want.String())
		}
	}
}

// TestFleetWriterReusesBuffers: a jsonl host rendered after another into the buffer the
// writer gave back is not mixed up with it.
func TestFleetWriterReusesBuffers(t *testing.T) {
	var out bytes.Buffer
	fw, err := NewFleetWriter("jsonl", &out, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	hosts := []FleetHost{{Root: "a", Report: planReport(t)}, {Root: "b", Err: errors.New("short")}, {Root: "c", Report: okReport()}}
	var want bytes.Buffer
	for _, h := range hosts {
		if err := fw.Write(fw.Encode(h)); err != nil {
			t.Fatal(err)
		}
		if err := encodeJSON(&want, newJSONL(h.Root, h.Report, h.Err), "", ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	if out.String() != want.String() {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want.String())
	}
}

// BenchmarkRenderJSONL: one host's jsonl line (planReport: ten results with evidence, a
// plan), by the hand writer and by encoding/json, as a fleet worker renders it.
func BenchmarkRenderJSONL(b *testing.B) {
	r := planReport(b)
	b.Run("hand", func(b *testing.B) {
		fw, err := NewFleetWriter("jsonl", io.Discard, nil, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := fw.Write(fw.Encode(FleetHost{Root: "fleet/h000001", Report: r})); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var buf bytes.Buffer
			if err := encodeJSON(&buf, newJSONL("fleet/h000001", r, nil), "", ""); err != nil {
				b.Fatal(err)
			}
		}
	})
}
