package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/cmd/rootless-doctor/cli"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// TestCIDocCommands runs every rootless-doctor command line of docs/ci.md, so the CI and
// monitoring examples cannot rot: lines without --root run against a recorded image with a
// `ci` account, 'snapshots/*' is a directory of recorded hosts, and --textfile paths are
// moved into a temporary directory. Each must exit 0 or 1 (a verdict, not a usage error)
// and write well-formed output in its format.
func TestCIDocCommands(t *testing.T) {
	lines := docCommands(t, filepath.Join("..", "..", "docs", "ci.md"))
	if len(lines) < 7 {
		t.Fatalf("found %d rootless-doctor command lines in docs/ci.md, want at least 7: %q", len(lines), lines)
	}
	work := t.TempDir()
	image := ciImage(t, filepath.Join(work, "ci-image"))
	snapshots := filepath.Join(work, "snapshots")
	if err := os.Mkdir(snapshots, 0o755); err != nil {
		t.Fatal(err)
	}
	copyTree(t, image, filepath.Join(snapshots, "ci-image"))
	for _, fx := range []string{"missing-subuid", "fedora-41-ok"} {
		copyTree(t, filepath.Join("..", "..", "fixtures", fx), filepath.Join(snapshots, fx))
	}
	for _, line := range lines {
		t.Run(line, func(t *testing.T) {
			args, redirect := splitCommand(t, line)
			hasRoot, textfile := false, ""
			for i := 0; i < len(args); i++ {
				switch args[i] {
				case "--root":
					hasRoot = true
					args[i+1] = filepath.Join(work, args[i+1])
				case "--textfile":
					textfile = filepath.Join(work, filepath.Base(args[i+1]))
					args[i+1] = textfile
				}
			}
			if !hasRoot {
				args = append(args, "--root", image)
			}
			ios, _, out, errOut := cli.TestIO()
			f := cli.NewFactory()
			f.IO = ios
			code := cli.Execute(context.Background(), f, args)
			if code != 0 && code != 1 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			format := "text"
			for i, a := range args {
				if a == "--output" || a == "-o" {
					format = args[i+1]
				}
			}
			data := out.Bytes()
			if textfile != "" {
				var err error
				if data, err = os.ReadFile(textfile); err != nil {
					t.Fatal(err)
				}
			}
			checkFormat(t, format, data)
			if !hasRoot {
				// The gate checked the image's ci account, not root.
				if want := map[string]string{"junit": `<property name="user" value="ci">`, "prometheus": `user="ci"`}[format]; !bytes.Contains(data, []byte(want)) {
					t.Errorf("output does not name the ci account (%s): %s", want, data)
				}
			} else if format == "text" && !bytes.Contains(data, []byte("3 hosts: ")) {
				t.Errorf("fleet summary missing: %s", data)
			}
			if redirect != "" && len(data) == 0 {
				t.Errorf("nothing written to %s", redirect)
			}
		})
	}
}

// docCommands returns the rootless-doctor command lines of a markdown file.
func docCommands(t *testing.T, path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	inCode := false
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inCode = !inCode
			continue
		}
		if i := strings.Index(l, "rootless-doctor check"); inCode && i >= 0 {
			out = append(out, l[i:])
		}
	}
	return out
}

// splitCommand splits "rootless-doctor ARGS > FILE" into ARGS (single quotes honoured, as a
// shell would) and FILE.
func splitCommand(t *testing.T, line string) ([]string, string) {
	cmd, redirect, _ := strings.Cut(line, " > ")
	var args []string
	var cur strings.Builder
	quoted, started := false, false
	for _, c := range cmd {
		switch {
		case c == '\'':
			quoted, started = !quoted, true
		case c == ' ' && !quoted:
			if started {
				args = append(args, cur.String())
				cur.Reset()
				started = false
			}
		default:
			cur.WriteRune(c)
			started = true
		}
	}
	if started {
		args = append(args, cur.String())
	}
	if len(args) == 0 || args[0] != "rootless-doctor" {
		t.Fatalf("not a rootless-doctor line: %q", line)
	}
	return args[1:], strings.TrimSpace(redirect)
}

func checkFormat(t *testing.T, format string, data []byte) {
	t.Helper()
	switch format {
	case "junit":
		var v struct {
			XMLName xml.Name
			Suites  []struct {
				Name  string `xml:"name,attr"`
				Tests int    `xml:"tests,attr"`
			} `xml:"testsuite"`
		}
		if err := xml.Unmarshal(data, &v); err != nil || v.XMLName.Local != "testsuites" || len(v.Suites) == 0 || v.Suites[0].Tests == 0 {
			t.Errorf("not a JUnit report (%v): %s", err, data)
		}
	case "jsonl":
		for _, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			var v struct {
				Schema string `json:"schema"`
			}
			if err := json.Unmarshal(l, &v); err != nil || v.Schema != "rootless-doctor/v1" {
				t.Errorf("not a report line (%v): %s", err, l)
			}
		}
	case "prometheus":
		if !bytes.Contains(data, []byte("# TYPE rootless_doctor_ok gauge")) {
			t.Errorf("no rootless_doctor_ok in %s", data)
		}
	default:
		if len(data) == 0 {
			t.Error("no output")
		}
	}
}

// ciImage writes a recorded image with a `ci` account (uid 1001, its own subordinate ranges
// and home) from the debian-12-ok fixture.
func ciImage(t *testing.T, dst string) string {
	t.Helper()
	copyTree(t, filepath.Join("..", "..", "fixtures", "debian-12-ok"), dst)
	appendTo := func(rel, line string) {
		f, err := os.OpenFile(filepath.Join(dst, rel), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(line + "\n"); err != nil {
			t.Fatal(err)
		}
	}
	appendTo("etc/passwd", "ci:x:1001:1001::/home/ci:/bin/sh")
	appendTo("etc/group", "ci:x:1001:")
	appendTo("etc/subuid", "ci:165536:65536")
	appendTo("etc/subgid", "ci:165536:65536")
	if err := os.MkdirAll(filepath.Join(dst, "home", "ci"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dst, host.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := host.ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	// The image is built as root, for ci.
	m.Self = host.Identity{UID: 0, GID: 0, Name: "root"}
	m.Files["/home/ci"] = host.FileMeta{Type: "dir", Mode: "0750", UID: host.Int(1001), GID: host.Int(1001)}
	if data, err = json.MarshalIndent(m, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, host.ManifestName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v\n%s", src, dst, err, out)
	}
}
