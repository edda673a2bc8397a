package apparmor

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// Profiles as distributions ship them. Ubuntu 24.04's rootlesskit profile (apparmor 4.0.1) and
// the one Docker's docs give for a get.docker.com/rootless install (~/bin/rootlesskit) are
// shared with the userns.apparmor probe's tests, in checks/testdata/apparmor.
var (
	ubuntuRootlesskit = readProfile("testdata/ubuntu-24.04-rootlesskit")
	dockerDocsProfile = readProfile("testdata/docker-docs-home-bin-rootlesskit")
)

func readProfile(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return string(data)
}

const (
	// Debian's passt package: pasta is a symlink to passt; userns comes from an abstraction.
	passtProfile = `# SPDX-License-Identifier: AGPL-3.0-or-later
abi <abi/3.0>,

include <tunables/global>

profile passt /usr/bin/passt{,.avx2} flags=(attach_disconnected) {
  include <abstractions/passt>

  # Alternatively: include <abstractions/user-tmp>
  owner /tmp/**				w,	# tap_sock_unix_init(), pcap(),
						# write_pidfile(),
						# logfile_init()

  owner @{HOME}/**			w,	# pcap(), write_pidfile()

  include <abstractions/pasta>
}
`
	// An old-style profile: #include, unnamed, child profile with userns that is not the
	// parent's, hats, globs with alternations, and multi-line dbus rules.
	oldStyle = `# vim:syntax=apparmor
#include <tunables/global>
@{exec_path} = /usr/{,local/}bin/tool
@{exec_path} += /opt/tool/bin/tool

@{exec_path} flags=(complain, attach_disconnected) {
  #include <abstractions/base>
  /{,usr/}bin/bzip2 rmCx -> &man_filter,
  dbus send
       bus=session
       path=/org/freedesktop/DBus
       member={Hello,AddMatch}
       peer=(name=org.freedesktop.DBus, label=unconfined),
  profile helper {
    userns,
  }
  ^hat {
    userns,
  }
  # userns,
  deny userns create,
}
`
)

func TestScanAppArmor(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want File
	}{
		{"ubuntu rootlesskit", ubuntuRootlesskit, File{
			ABI:      "abi/4.0",
			Includes: []Include{{Path: "tunables/global", Angle: true, Line: 5}},
			Profiles: []Profile{{
				Name: "rootlesskit", Attach: "/usr/bin/rootlesskit", Flags: []string{"unconfined"}, Userns: true, Line: 7,
				Includes: []Include{{Path: "local/rootlesskit", Angle: true, IfExists: true, Line: 11}},
			}},
		}},
		{"docker docs quoted path", dockerDocsProfile, File{
			ABI:      "abi/4.0",
			Includes: []Include{{Path: "tunables/global", Angle: true, Line: 2}},
			Profiles: []Profile{{
				Name: "/home/alice/bin/rootlesskit", Attach: "/home/alice/bin/rootlesskit", Flags: []string{"unconfined"}, Userns: true, Line: 4,
				Includes: []Include{{Path: "local/home.alice.bin.rootlesskit", Angle: true, IfExists: true, Line: 7}},
			}},
		}},
		{"passt with abstractions", passtProfile, File{
			ABI:      "abi/3.0",
			Includes: []Include{{Path: "tunables/global", Angle: true, Line: 4}},
			Profiles: []Profile{{
				Name: "passt", Attach: "/usr/bin/passt{,.avx2}", Flags: []string{"attach_disconnected"}, Line: 6,
				Includes: []Include{
					{Path: "abstractions/passt", Angle: true, Line: 7},
					{Path: "abstractions/pasta", Angle: true, Line: 16},
				},
				Files: []FileRule{
					{Path: "/tmp/**", Perms: "w", Owner: true, Line: 10},
					{Path: "@{HOME}/**", Perms: "w", Owner: true, Line: 14},
				},
			}},
		}},
		{"old style", oldStyle, File{
			Includes: []Include{{Path: "tunables/global", Angle: true, Line: 2}},
			Variables: []Variable{
				{Name: "exec_path", Values: []string{"/usr/{,local/}bin/tool"}, Line: 3},
				{Name: "exec_path", Values: []string{"/opt/tool/bin/tool"}, Append: true, Line: 4},
			},
			Profiles: []Profile{{
				Name: "@{exec_path}", Attach: "@{exec_path}", Flags: []string{"complain", "attach_disconnected"}, DenyUserns: true, Line: 6,
				Includes: []Include{{Path: "abstractions/base", Angle: true, Line: 7}},
				Files:    []FileRule{{Path: "/{,usr/}bin/bzip2", Perms: "rmCx", Line: 8}},
			}},
		}},
		{"abstraction with bare userns rule", "  # pasta\n  userns,\n  capability sys_admin,\n", File{Userns: true}},
		{"one line profile", `profile x /usr/bin/x { userns, }`, File{
			Profiles: []Profile{{Name: "x", Attach: "/usr/bin/x", Userns: true, Line: 1}},
		}},
		{"header split over lines, flags with spaces", "profile \"my tool\" \"/opt/My Tool/bin/tool\"\n  flags = (unconfined)\n{\n  audit allow userns,\n}\n", File{
			Profiles: []Profile{{Name: "my tool", Attach: "/opt/My Tool/bin/tool", Flags: []string{"unconfined"}, Userns: true, Line: 1}},
		}},
		{"named profile without attachment", "profile unprivileged_userns {\n  audit deny capability,\n}\n", File{
			Profiles: []Profile{{Name: "unprivileged_userns", Line: 1}},
		}},
		{"profile keyword with path name", "profile /usr/bin/podman {\n userns,\n}\n", File{
			Profiles: []Profile{{Name: "/usr/bin/podman", Attach: "/usr/bin/podman", Userns: true, Line: 1}},
		}},
		{"old bare flags and priority", "/usr/bin/buildah (complain) {\n  priority=10 userns,\n}\n", File{
			Profiles: []Profile{{Name: "/usr/bin/buildah", Attach: "/usr/bin/buildah", Flags: []string{"complain"}, Userns: true, Line: 1}},
		}},
		{"userns as part of another rule is not a grant", "profile a /a {\n  userns foo bar,\n  /usr/bin/userns rix,\n  capability userns,\n}\n", File{
			Profiles: []Profile{{Name: "a", Attach: "/a", Line: 1, Files: []FileRule{{Path: "/usr/bin/userns", Perms: "rix", Line: 3}}}},
		}},
		{"file rules", "profile a /a {\n  file,\n  deny /etc/shadow r,\n  owner @{HOME}/** rw,\n  r /b,\n  audit allow \"/c d\" wk,\n  /e ix -> x,\n  mount -> /x/,\n  network inet stream,\n}\n  @{run}/user/@{uid}/netns/* r,\n", File{
			Profiles: []Profile{{Name: "a", Attach: "/a", Line: 1, Files: []FileRule{
				{Path: "/etc/shadow", Perms: "r", Deny: true, Line: 3},
				{Path: "@{HOME}/**", Perms: "rw", Owner: true, Line: 4},
				{Path: "/b", Perms: "r", Line: 5},
				{Path: "/c d", Perms: "wk", Line: 6},
				{Path: "/e", Perms: "ix", Line: 7},
			}}},
			Files: []FileRule{{Path: "@{run}/user/@{uid}/netns/*", Perms: "r", Line: 11}},
		}},
		{"comment and commented userns", "# profile fake /usr/bin/rootlesskit { userns, }\n", File{}},
		{"empty", "", File{}},
		{"unbalanced", "profile a /a {\n userns,\n}\n}\n}\nprofile b /b {\n userns,\n", File{
			Profiles: []Profile{{Name: "a", Attach: "/a", Userns: true, Line: 1}, {Name: "b", Attach: "/b", Userns: true, Line: 6}},
		}},
		{"garbage", "\x00\xff{{{((( \"unterminated\n", File{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Scan([]byte(tt.in))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Scan =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestMatchAppArmorAttachment(t *testing.T) {
	vars := map[string][]string{
		"HOME":      {"@{HOMEDIRS}/*/", "/root/"},
		"HOMEDIRS":  {"/home/"},
		"exec_path": {"/usr/{,local/}bin/tool"},
		"loop":      {"@{loop}x"},
	}
	tests := []struct {
		pattern, path string
		want          bool
		err           bool
	}{
		{"/usr/bin/rootlesskit", "/usr/bin/rootlesskit", true, false},
		{"/usr/bin/rootlesskit", "/usr/local/bin/rootlesskit", false, false},
		{"/usr/bin/rootlesskit", "/usr/bin/rootlesskit2", false, false},
		{"/usr/bin/{rootlesskit,podman}", "/usr/bin/podman", true, false},
		{"/usr/bin/{rootlesskit,podman}", "/usr/bin/buildah", false, false},
		{"/usr/bin/passt{,.avx2}", "/usr/bin/passt", true, false},
		{"/usr/bin/passt{,.avx2}", "/usr/bin/passt.avx2", true, false},
		{"/usr/{,local/}bin/{a,b{c,d}}", "/usr/local/bin/bd", true, false},
		{"/usr/bin/*", "/usr/bin/rootlesskit", true, false},
		{"/usr/*/rootlesskit", "/usr/local/bin/rootlesskit", false, false},
		{"/usr/**/rootlesskit", "/usr/local/bin/rootlesskit", true, false},
		{"/opt/*/bin/rootless?it", "/opt/x/bin/rootlesskit", true, false},
		{"/usr/bin/rootlessk[a-j]t", "/usr/bin/rootlesskit", true, false},
		{"/usr/bin/rootlessk[^i]t", "/usr/bin/rootlesskit", false, false},
		{"/usr/bin/a.b", "/usr/bin/aXb", false, false},
		{`/usr/bin/a\*`, "/usr/bin/a*", true, false},
		{`/usr/bin/a\*`, "/usr/bin/ab", false, false},
		{"/opt/My Tool/bin/tool", "/opt/My Tool/bin/tool", true, false},
		{"@{HOME}/bin/rootlesskit", "/home/alice/bin/rootlesskit", true, false},
		{"@{HOME}/bin/rootlesskit", "/root/bin/rootlesskit", true, false},
		{"@{HOME}/bin/rootlesskit", "/home/alice/x/bin/rootlesskit", false, false},
		{"@{exec_path}", "/usr/local/bin/tool", true, false},
		{"@{nope}/x", "/x", false, true},
		{"@{loop}", "x", false, true},
		{"/usr/bin/{a,b", "/usr/bin/a", false, true},
		{"/usr/bin/a}", "/usr/bin/a}", false, true},
		{"/usr/bin/[", "/usr/bin/[", false, true},
		{"", "", true, false},
	}
	for _, tt := range tests {
		got, err := MatchAttachment(tt.pattern, vars, tt.path)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("Match(%q, %q) = %v, %v; want %v, err=%v", tt.pattern, tt.path, got, err, tt.want, tt.err)
		}
	}
	if _, err := MatchAttachment("@{nope}", nil, "/x"); !errors.Is(err, ErrUnknownVariable) {
		t.Errorf("undefined variable: error %v does not wrap ErrUnknownVariable", err)
	}
	if _, err := MatchAttachment("/"+strings.Repeat("a", 5000), nil, "/a"); err == nil {
		t.Errorf("a pattern longer than the limit must be refused")
	}
}

func TestAppArmorDefine(t *testing.T) {
	home := Scan([]byte("@{HOMEDIRS}=/home/\n@{HOME}=@{HOMEDIRS}/*/ /root/\n"))
	homeD := Scan([]byte("# tunables/home.d/site\n@{HOMEDIRS}+=/srv/users/\n"))
	vars := map[string][]string{}
	home.Define(vars)
	homeD.Define(vars)
	want := map[string][]string{"HOMEDIRS": {"/home/", "/srv/users/"}, "HOME": {"@{HOMEDIRS}/*/", "/root/"}}
	if !reflect.DeepEqual(vars, want) {
		t.Fatalf("vars = %v, want %v", vars, want)
	}
	for _, p := range []string{"/home/alice/bin/rootlesskit", "/srv/users/alice/bin/rootlesskit", "/root/bin/rootlesskit"} {
		if ok, err := MatchAttachment("@{HOME}/bin/rootlesskit", vars, p); !ok || err != nil {
			t.Errorf("@{HOME}/bin/rootlesskit vs %s: %v, %v", p, ok, err)
		}
	}
	// A later "=" replaces.
	Scan([]byte("@{HOMEDIRS} = /export/\n")).Define(vars)
	if got := vars["HOMEDIRS"]; !reflect.DeepEqual(got, []string{"/export/"}) {
		t.Errorf("after redefinition HOMEDIRS = %v", got)
	}
}

func TestIsLiteralAttachment(t *testing.T) {
	for p, want := range map[string]bool{
		"/usr/bin/rootlesskit": true, "/opt/My Tool/x": true, "/usr/bin/*": false,
		"/usr/bin/{a,b}": false, "@{HOME}/bin/x": false, "/a?": false, "/a[b]": false,
	} {
		if got := IsLiteralAttachment(p); got != want {
			t.Errorf("IsLiteralAttachment(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestParseAppArmorLoaded(t *testing.T) {
	in := "rootlesskit (unconfined)\n/usr/bin/man (enforce)\nman_filter (enforce)\nmy tool (complain)\ngarbage\n(x)\n\n"
	want := []Loaded{
		{"rootlesskit", "unconfined"}, {"/usr/bin/man", "enforce"}, {"man_filter", "enforce"}, {"my tool", "complain"},
	}
	if got := ParseLoaded([]byte(in)); !reflect.DeepEqual(got, want) {
		t.Errorf("ParseLoaded = %+v, want %+v", got, want)
	}
}

func FuzzScanAppArmor(f *testing.F) {
	for _, s := range []string{ubuntuRootlesskit, dockerDocsProfile, passtProfile, oldStyle, "{}}{", "\"", "#include", "@{a}=@{a}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := Scan(data)
		if len(got.Profiles) > maxAppArmorProfiles || len(got.Includes) > maxAppArmorIncludes {
			t.Fatalf("limits exceeded: %d profiles, %d includes", len(got.Profiles), len(got.Includes))
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, p := range got.Profiles {
			if p.Name == "" || p.Line < 1 || p.Line > lines {
				t.Fatalf("bad profile %+v (%d lines)", p, lines)
			}
			for _, inc := range p.Includes {
				if inc.Path == "" || inc.Line < p.Line || inc.Line > lines {
					t.Fatalf("bad include %+v in profile at line %d", inc, p.Line)
				}
			}
			// Matching any attachment against any path never panics.
			vars := map[string][]string{}
			got.Define(vars)
			_, _ = MatchAttachment(p.Attach, vars, "/usr/bin/rootlesskit")
		}
		// The scan does not depend on a trailing newline being there or not.
		again := Scan(append(append([]byte{}, data...), '\n'))
		if len(again.Profiles) != len(got.Profiles) {
			t.Fatalf("a trailing newline changed the profile count: %d → %d", len(got.Profiles), len(again.Profiles))
		}
	})
}

func FuzzMatchAppArmorAttachment(f *testing.F) {
	f.Add("/usr/bin/{rootlesskit,podman}", "/usr/bin/podman")
	f.Add("@{HOME}/**", "/home/a/b")
	f.Add("/a[^b-d]?*", "/a/x")
	f.Fuzz(func(t *testing.T, pattern, path string) {
		vars := map[string][]string{"HOME": {"/home/*/", "/root/"}}
		ok, err := MatchAttachment(pattern, vars, path)
		if err != nil && ok {
			t.Fatalf("match with an error: %v", err)
		}
		// A literal pattern matches exactly itself (up to duplicate slashes).
		if IsLiteralAttachment(pattern) && err == nil && ok != (collapseSlashes(pattern) == collapseSlashes(path)) {
			t.Fatalf("literal %q vs %q: match=%v", pattern, path, ok)
		}
	})
}

func FuzzParseAppArmorLoaded(f *testing.F) {
	f.Add([]byte("rootlesskit (unconfined)\nx (enforce)\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, l := range ParseLoaded(data) {
			if l.Name == "" || strings.Contains(l.Name, "\n") || strings.Contains(l.Mode, "\n") {
				t.Fatalf("bad entry %+v", l)
			}
		}
	})
}
