package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/colorprofile"
	"gotest.tools/v3/golden"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// sampleResults cover every status, evidence, details, intents (plain and optional), an
// undecided error, an unknown group, and hostile text: `|`, `<`, `&`, ANSI ESC, OSC, BEL, CR,
// newlines, "]]>", backticks, markdown syntax and non-ASCII.
func sampleResults() []finding.Result {
	res := []finding.Result{
		finding.Passf("alice (uid 1000) is an ordinary user").
			With("/etc/passwd", "alice:x:1000:1000:Alice:/home/alice:/bin/bash"),
		finding.Failf("alice has no range in /etc/subuid").
			Detail("rootlesskit maps 65536 ids; without a range only uid 1000 maps & <newuidmap> fails").
			Detail("see https://github.com/rootless-containers/rootlesskit/issues/1 | second line\nthird line ]]> end").
			With("/etc/subuid", "bob:100000:65536\ncarol:165536:65536").
			With("getsubids alice", "").
			Fix(finding.AddSubIDs("alice", "uid", 65536, nil, "no range")),
		finding.Undecided(errors.New("open /usr/bin/newuidmap: permission denied"), "cannot tell whether newuidmap is setuid"),
		finding.Passf("net.ipv4.ping_group_range allows everyone"),
		finding.Failf("/dev/net/tun is not usable by alice: \x1b[31mcrw-------\x1b[0m root root").
			With("ls -l /dev/net/tun", "\x1b[1;31mcrw-------\x1b[0m 1 root root 10, 200\r\n\x1b]8;;http://evil\x07link\x1b]8;;\x07\a").
			Fix(finding.DeviceMode("/dev/net/tun", "0666", "slirp4netns opens it")),
		finding.Warnf("ping inside containers is restricted | needs\nnet.ipv4.ping_group_range").
			Detail("* not _emphasis_ [link](x) `code` ~strike~ # heading").
			Fix(finding.SetSysctl("net.ipv4.ping_group_range", "0 2147483647", "ping").Optionally()),
		finding.Skipf("no systemd user session on a cgroup v1 host"),
		finding.Warnf("slirp4netns 0.3.0 is older than 0.4.0 — überaltert ✓").
			With("slirp4netns --version", "slirp4netns version 0.3.0\ncommit: ```abc```").
			Fix(finding.InstallTool("slirp4netns", "too old"), finding.InstallTool("slirp4netns", "too old")),
		finding.Passf("overlay in user namespaces (kernel 6.18 ≥ 5.11)"),
		finding.Passf("custom probe in a group the registry does not know <b>&amp;</b>").With("custom", "x"),
	}
	ids := []string{"identity.user", "idmap.subuid", "idmap.newuidmap", "net.ping", "net.tun",
		"net.ping_group", "session.dbus", "net.slirp4netns", "storage.driver", "custom.extra"}
	for i := range res {
		res[i].ID = ids[i]
		res[i].Title = ids[i] + " title"
		res[i].Duration = time.Duration(i+1) * 1234567 * time.Nanosecond
	}
	// The runner turns an undecided result into a warn and keeps the error.
	res[2].Status = finding.Warn
	res[2].Summary = "could not decide: " + res[2].Summary
	return res
}

func sampleReport(failOn finding.Status) *Report {
	results := sampleResults()
	return &Report{
		Tool: Tool{Name: "rootless-doctor", Version: "v1.2.3", Revision: "0123456789abcdef0123456789abcdef01234567", Go: "go1.26.0"},
		Host: HostInfo{
			Distro: DistroInfo{ID: "debian", VersionID: "12", PrettyName: "Debian GNU/Linux 12 (bookworm)"},
			Kernel: "6.18.0-test",
			User:   UserInfo{Name: "alice", UID: 1000, Home: "/home/alice"},
		},
		Results: results,
		Summary: finding.Summarize(results),
		FailOn:  failOn,
		Notes:   []string{"static probes only: the live proof did not run", "note with \x1b[7mescape\x1b[0m and\nnewline"},
	}
}

// okReport passes, with one warning that has a fix.
func okReport() *Report {
	results := []finding.Result{
		finding.Passf("alice (uid 1000) is an ordinary user"),
		finding.Warnf("lingering is off for alice").Fix(finding.EnableLinger("alice", "keep the daemon running")),
		finding.Skipf("not on this host"),
	}
	for i, id := range []string{"identity.user", "session.linger", "net.pasta"} {
		results[i].ID = id
	}
	return &Report{
		Host:    HostInfo{Distro: DistroInfo{ID: "alpine", VersionID: "3.20"}, Kernel: "6.6.1", User: UserInfo{Name: "ci", UID: 1001}},
		Results: results,
		Summary: finding.Summarize(results),
		FailOn:  finding.Fail,
	}
}

func render(t *testing.T, format string, r *Report, opt Options) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(format, &buf, r, opt); err != nil {
		t.Fatalf("Render(%s): %v", format, err)
	}
	return buf.String()
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name, format string
		report       *Report
		opt          Options
	}{
		{"text.golden", "text", sampleReport(finding.Fail), Options{Profile: colorprofile.NoTTY}},
		{"text-verbose.golden", "text", sampleReport(finding.Fail), Options{Verbose: true, Profile: colorprofile.NoTTY}},
		{"text-verbose-ansi.golden", "text", sampleReport(finding.Fail), Options{Verbose: true, Profile: colorprofile.ANSI}},
		{"text-ok.golden", "text", okReport(), Options{Profile: colorprofile.NoTTY}},
		{"text-ok-ansi.golden", "text", okReport(), Options{Profile: colorprofile.ANSI}},
		{"junit.golden", "junit", sampleReport(finding.Fail), Options{}},
		{"junit-failon-warn.golden", "junit", sampleReport(finding.Warn), Options{}},
		{"prometheus.golden", "prometheus", sampleReport(finding.Fail), Options{}},
		{"markdown.golden", "markdown", sampleReport(finding.Fail), Options{}},
		{"markdown-verbose.golden", "markdown", sampleReport(finding.Fail), Options{Verbose: true}},
		{"markdown-ok.golden", "markdown", okReport(), Options{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := render(t, tc.format, tc.report, tc.opt)
			golden.Assert(t, got, tc.name)
			// Byte-stable: a second render of the same input is identical.
			if again := render(t, tc.format, tc.report, tc.opt); again != got {
				t.Errorf("second render differs:\n%s\n---\n%s", got, again)
			}
		})
	}
}

func TestEveryFormatRendersEmptyAndZeroReports(t *testing.T) {
	for _, format := range Formats() {
		for name, r := range map[string]*Report{
			"empty": {FailOn: finding.Fail},
			"zero":  {},
			"odd": {Results: []finding.Result{
				{ID: "", Status: "bogus", Summary: ""},
				{ID: "nodot", Status: finding.Fail, Evidence: []finding.Evidence{{}}, Details: []string{"", "\n\n"}},
			}, Host: HostInfo{User: UserInfo{UID: -1}}},
		} {
			t.Run(format+"/"+name, func(t *testing.T) {
				for _, p := range []colorprofile.Profile{colorprofile.NoTTY, colorprofile.TrueColor} {
					if err := Render(format, io.Discard, r, Options{Verbose: true, Profile: p}); err != nil {
						t.Fatalf("Render: %v", err)
					}
				}
			})
		}
	}
}

func TestFormats(t *testing.T) {
	want := []string{"json", "jsonl", "junit", "markdown", "prometheus", "text"}
	if got := Formats(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Formats() = %v, want %v", got, want)
	}
	if err := Render("yaml", io.Discard, okReport(), Options{}); err == nil {
		t.Error("Render(yaml): want an error")
	}
}

func TestTextNoTTYIsPlain(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		for _, p := range []colorprofile.Profile{colorprofile.NoTTY, colorprofile.Unknown} {
			got := render(t, "text", sampleReport(finding.Fail), Options{Verbose: verbose, Profile: p})
			for i, c := range []byte(got) {
				if c < 0x20 && c != '\n' || c == 0x7f {
					t.Fatalf("profile %v verbose %v: control byte %#x at %d in\n%s", p, verbose, c, i, got)
				}
			}
			for _, l := range strings.Split(got, "\n") {
				if strings.TrimRight(l, " ") != l {
					t.Errorf("trailing space in %q", l)
				}
			}
		}
	}
}

func TestTextColour(t *testing.T) {
	tests := []struct {
		profile  colorprofile.Profile
		contains []string // SGR sequences that must appear
		absent   []string
	}{
		// ANSI keeps the 4-bit theme colours: green 32, yellow 33, red 31; faint 2, bold 1.
		{colorprofile.ANSI, []string{"\x1b[32m✓", "\x1b[33m!", "\x1b[31m✗", "\x1b[2m", "\x1b[1m"}, nil},
		{colorprofile.TrueColor, []string{"\x1b[32m✓", "\x1b[31m✗"}, nil},
		// ASCII (NO_COLOR) keeps bold and faint but drops every colour.
		{colorprofile.ASCII, []string{"\x1b[1m"}, []string{"\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[36m"}},
	}
	for _, tc := range tests {
		t.Run(tc.profile.String(), func(t *testing.T) {
			got := render(t, "text", sampleReport(finding.Fail), Options{Verbose: true, Profile: tc.profile})
			for _, s := range tc.contains {
				if !strings.Contains(got, s) {
					t.Errorf("output lacks %q:\n%q", s, got)
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(got, s) {
					t.Errorf("output has %q:\n%q", s, got)
				}
			}
			// The probe's own escape sequences never reach the terminal, whatever the profile.
			for _, s := range []string{"\x1b[1;31m", "\x1b]8", "\x1b[7m", "\a", "\r"} {
				if strings.Contains(got, s) {
					t.Errorf("probe-supplied %q leaked into the output", s)
				}
			}
		})
	}
}

func TestTextLayout(t *testing.T) {
	got := render(t, "text", sampleReport(finding.Fail), Options{Profile: colorprofile.NoTTY})
	// Ids are padded to one width, so every summary starts in the same column.
	col := -1
	for _, l := range strings.Split(got, "\n") {
		if !strings.HasPrefix(l, "  ") {
			continue
		}
		fields := strings.Fields(l)
		i := strings.Index(l, fields[1]) + len(fields[1])
		// Every symbol is one column wide, so the column is the rune count.
		j := utf8.RuneCountInString(l[:i+len(l[i:])-len(strings.TrimLeft(l[i:], " "))])
		if col == -1 {
			col = j
		} else if j != col {
			t.Errorf("summary of %q starts at column %d, want %d", l, j, col)
		}
	}
	for _, want := range []string{
		"4 passed, 3 warnings, 2 failed, 1 skipped\n",
		"run `rootless-doctor fix` for the exact commands",
		"static probes only: the live proof did not run\n",
		"note with escape and newline\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("text lacks %q:\n%s", want, got)
		}
	}
	// Groups come in GroupTitles order with the unknown group last.
	order := []string{"Identity\n", "Subordinate ids\n", "Login session\n", "Network\n", "Storage\n", "custom\n"}
	last := -1
	for _, h := range order {
		i := strings.Index(got, h)
		if i <= last {
			t.Errorf("heading %q out of order in\n%s", h, got)
		}
		last = i
	}
}

func TestTextNextStep(t *testing.T) {
	r := okReport()
	got := render(t, "text", r, Options{})
	if !strings.Contains(got, "`rootless-doctor fix` shows how to clear the warnings") || strings.Contains(got, "exact commands") {
		t.Errorf("ok report with a fixable warning:\n%s", got)
	}
	r.FailOn = finding.Warn
	got = render(t, "text", r, Options{})
	if !strings.Contains(got, "run `rootless-doctor fix` for the exact commands (add -v") {
		t.Errorf("--fail-on warn report:\n%s", got)
	}
	r = okReport()
	r.Results = r.Results[:1]
	r.Summary = finding.Summarize(r.Results)
	got = render(t, "text", r, Options{})
	if strings.Contains(got, "rootless-doctor fix") {
		t.Errorf("all-pass report suggests a fix:\n%s", got)
	}
	if !strings.HasSuffix(got, "1 passed, 0 warnings, 0 failed, 0 skipped\n") {
		t.Errorf("all-pass report does not end with the counts:\n%s", got)
	}
}

// junitDoc mirrors the parts of the JUnit schema the tests look at.
type junitDoc struct {
	XMLName xml.Name `xml:"testsuites"`
	Suites  []struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Skipped    int    `xml:"skipped,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Time      string `xml:"time,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Data    string `xml:",chardata"`
			} `xml:"failure"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func decodeJUnit(t *testing.T, s string) junitDoc {
	t.Helper()
	var doc junitDoc
	dec := xml.NewDecoder(strings.NewReader(s))
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("junit output is not valid XML: %v\n%s", err, s)
	}
	// Decode stops after the root element; read on to catch anything invalid after it.
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("junit output has invalid XML after the root: %v", err)
		}
	}
	return doc
}

func TestJUnit(t *testing.T) {
	tests := []struct {
		failOn         finding.Status
		failures, warn int
	}{
		{finding.Fail, 2, 0},
		{finding.Warn, 5, 3},
	}
	for _, tc := range tests {
		t.Run(string(tc.failOn), func(t *testing.T) {
			out := render(t, "junit", sampleReport(tc.failOn), Options{})
			if !strings.HasPrefix(out, xml.Header) {
				t.Errorf("no XML header")
			}
			if strings.ContainsRune(out, '\x1b') || strings.ContainsRune(out, '\a') {
				t.Errorf("control characters in junit output")
			}
			doc := decodeJUnit(t, out)
			if len(doc.Suites) != 1 {
				t.Fatalf("%d suites, want 1", len(doc.Suites))
			}
			s := doc.Suites[0]
			if s.Name != "rootless-doctor" || s.Tests != 10 || s.Failures != tc.failures || s.Skipped != 1 {
				t.Errorf("suite %s tests=%d failures=%d skipped=%d, want rootless-doctor 10 %d 1",
					s.Name, s.Tests, s.Failures, s.Skipped, tc.failures)
			}
			props := map[string]string{}
			for _, p := range s.Properties {
				props[p.Name] = p.Value
			}
			if props["distro"] != "debian 12" || props["kernel"] != "6.18.0-test" || props["user"] != "alice" {
				t.Errorf("properties = %v", props)
			}
			warns := 0
			for _, c := range s.Cases {
				if want := groupOf(c.Name); c.Classname != want {
					t.Errorf("%s: classname %q, want %q", c.Name, c.Classname, want)
				}
				if c.Failure != nil && c.Failure.Type == "warn" {
					warns++
				}
				if c.Name == "net.tun" {
					if c.Failure == nil || c.Failure.Type != "fail" {
						t.Fatalf("net.tun: failure = %+v", c.Failure)
					}
					if c.Failure.Message != "/dev/net/tun is not usable by alice: crw------- root root" {
						t.Errorf("net.tun message %q", c.Failure.Message)
					}
					if !strings.Contains(c.Failure.Data, "ls -l /dev/net/tun: crw------- 1 root root 10, 200") ||
						!strings.Contains(c.Failure.Data, "fix: make /dev/net/tun mode 0666 now and at boot") {
						t.Errorf("net.tun data %q", c.Failure.Data)
					}
				}
				if c.Name == "idmap.subuid" && (c.Failure == nil || !strings.Contains(c.Failure.Data, "third line ]]> end")) {
					t.Errorf("idmap.subuid: CDATA with ]]> did not survive: %+v", c.Failure)
				}
				if c.Name == "session.dbus" && (c.Skipped == nil || c.Skipped.Message == "") {
					t.Errorf("session.dbus: want skipped with a reason, got %+v", c)
				}
				if c.Name == "idmap.newuidmap" && tc.failOn == finding.Fail &&
					(c.Failure != nil || !strings.HasPrefix(c.SystemOut, "warning: could not decide")) {
					t.Errorf("idmap.newuidmap: warn should pass with system-out, got %+v", c)
				}
			}
			if warns != tc.warn {
				t.Errorf("%d warn failures, want %d", warns, tc.warn)
			}
			if c := s.Cases[1]; c.Time != "0.002" {
				t.Errorf("second case time %q, want 0.002 (2469134ns)", c.Time)
			}
		})
	}
}

func TestMarkdown(t *testing.T) {
	out := render(t, "markdown", sampleReport(finding.Fail), Options{})
	if !strings.HasPrefix(out, "### rootless-doctor: failed\n") {
		t.Errorf("heading: %q", strings.SplitN(out, "\n", 2)[0])
	}
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "| ") {
			continue
		}
		// Every table row has exactly four unescaped pipes: three columns.
		if n := strings.Count(l, "|") - strings.Count(l, `\|`); n != 4 {
			t.Errorf("row has %d column separators: %q", n, l)
		}
	}
	for _, want := range []string{
		`| ! warn | net.ping\_group | ping inside containers is restricted \| needs net.ipv4.ping\_group\_range |`,
		"only uid 1000 maps &amp; &lt;newuidmap&gt; fails",
		"```text\n/etc/subuid: bob:100000:65536\n  carol:165536:65536\ngetsubids alice: (empty)\n```",
		"````text\nslirp4netns --version: slirp4netns version 0.3.0\n  commit: ```abc```\n````",
		`\* not \_emphasis\_ \[link\](x) \` + "`code\\`" + ` \~strike\~ # heading`,
		"Run `rootless-doctor fix` for the exact commands.\n",
		// <summary> is raw HTML: HTML-escaped, no markdown escapes.
		"<summary>! net.ping_group: ping inside containers is restricted | needs net.ipv4.ping_group_range</summary>",
		"<summary>✗ idmap.subuid: alice has no range in /etc/subuid</summary>",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	if strings.ContainsRune(out, '\x1b') {
		t.Error("ESC in markdown")
	}
	for _, v := range []bool{false, true} {
		if got := render(t, "markdown", sampleReport(finding.Fail), Options{Verbose: v}); strings.Contains(got, "<b>") {
			t.Errorf("verbose=%v: a probe's HTML reached the markdown unescaped", v)
		}
	}
	// Pass results get no details section unless verbose.
	if strings.Contains(out, "<summary>✓") {
		t.Error("non-verbose markdown has a details section for a pass")
	}
	if v := render(t, "markdown", sampleReport(finding.Fail), Options{Verbose: true}); !strings.Contains(v, "<summary>✓ identity.user") {
		t.Error("verbose markdown lacks the pass details")
	}
	if ok := render(t, "markdown", okReport(), Options{}); !strings.HasPrefix(ok, "### rootless-doctor: ok\n") {
		t.Errorf("ok heading: %q", ok)
	}
}

func TestMdEscapeLines(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"a|b", `a\|b`},
		{"# not a heading", `\# not a heading`},
		{"- not a list", `\- not a list`},
		{"===", `\===`},
		{"12. not a list", `12\. not a list`},
		{"3) nor this", `3\) nor this`},
		{"1000 ids", "1000 ids"},
		{`back\slash`, `back\\slash`},
		{"<script>&", "&lt;script&gt;&amp;"},
		{"ünïcode ✓", "ünïcode ✓"},
	}
	for _, tc := range tests {
		if got := mdEscapeLines([]string{tc.in})[0]; got != tc.want {
			t.Errorf("mdEscapeLines(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestClean(t *testing.T) {
	tests := []struct{ in, clean, oneLine string }{
		{"plain text", "plain text", "plain text"},
		{"\x1b[31mred\x1b[0m", "red", "red"},
		{"a\r\nb", "a\nb", "a b"},
		{"tab\there", "tab\there", "tab here"},
		{"bell\a and \x00nul", "bell and nul", "bell and nul"},
		{"c1 \u009b31m csi", "c1 31m csi", "c1 31m csi"},
		{"bad \xff utf8", "bad \uFFFD utf8", "bad \uFFFD utf8"},
		{"non\uFFFEchar", "non\uFFFDchar", "non\uFFFDchar"},
		{"  lines \n\n  two  \n", "  lines \n\n  two  \n", "lines two"},
		{"ünïcode — ✓", "ünïcode — ✓", "ünïcode — ✓"},
	}
	for _, tc := range tests {
		if got := clean(tc.in); got != tc.clean {
			t.Errorf("clean(%q) = %q, want %q", tc.in, got, tc.clean)
		}
		if got := oneLine(tc.in); got != tc.oneLine {
			t.Errorf("oneLine(%q) = %q, want %q", tc.in, got, tc.oneLine)
		}
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b[31mred", "a\r\nb\x00", "\xff\xfe", "\u009b", "]]>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := clean(s)
		if c != clean(c) {
			t.Errorf("clean is not idempotent on %q", s)
		}
		for _, r := range c {
			if r < 0x20 && r != '\n' && r != '\t' || r >= 0x7f && r <= 0x9f || r == 0xFFFE || r == 0xFFFF {
				t.Fatalf("clean(%q) kept %U", s, r)
			}
		}
		o := oneLine(s)
		if strings.ContainsAny(o, "\n\t") {
			t.Fatalf("oneLine(%q) = %q has a line break", s, o)
		}
		// Whatever a probe says, the JUnit document stays valid XML.
		r := &Report{FailOn: finding.Fail, Results: []finding.Result{
			finding.Failf("%s", s).Detail("%s", s).With(s, s),
		}}
		r.Results[0].ID = s
		var buf bytes.Buffer
		if err := renderJUnit(&buf, r, Options{}); err != nil {
			t.Fatal(err)
		}
		dec := xml.NewDecoder(&buf)
		for {
			if _, err := dec.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("invalid XML for %q: %v", s, err)
			}
		}
	})
}
