package parse

import (
	"slices"
	"strings"
	"testing"
)

func TestParseProcCgroup(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantErr  bool
		n        int
		unified  string
		hasV2    bool
		firstCtl []string
	}{
		{name: "unified", in: "0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n", n: 1,
			unified: "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", hasV2: true},
		{name: "hybrid (this dev machine)", in: "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/aed4\n2:cpuacct:/\n1:cpu:/\n0::/\n",
			n: 6, unified: "/", hasV2: true, firstCtl: []string{"name=systemd"}},
		{name: "legacy, no v2 line", in: "3:cpu,cpuacct:/user.slice\n2:memory:/user.slice\n", n: 2, firstCtl: []string{"cpu", "cpuacct"}},
		{name: "colon in the path", in: "0::/a:b/c\n", n: 1, unified: "/a:b/c", hasV2: true},
		{name: "CRLF and blank lines", in: "\r\n0::/x\r\n\n", n: 1, unified: "/x", hasV2: true},
		{name: "empty", in: "", n: 0},
		{name: "garbage", in: "hello world\n", wantErr: true},
		{name: "bad id", in: "x::/\n", wantErr: true},
		{name: "negative id", in: "-1::/\n", wantErr: true},
		{name: "relative path", in: "0::user.slice\n", wantErr: true},
		{name: "huge line", in: "0::/" + strings.Repeat("a", 1<<20) + "\nnope\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProcCgroup([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				if len(err.Error()) > 300 {
					t.Errorf("error is %d bytes long; values must be clipped", len(err.Error()))
				}
				return
			}
			if len(got) != tt.n {
				t.Fatalf("got %d entries, want %d: %+v", len(got), tt.n, got)
			}
			p, ok := UnifiedCgroupPath(got)
			if ok != tt.hasV2 || p != tt.unified {
				t.Errorf("UnifiedCgroupPath = %q, %v; want %q, %v", p, ok, tt.unified, tt.hasV2)
			}
			if tt.firstCtl != nil && !slices.Equal(got[0].Controllers, tt.firstCtl) {
				t.Errorf("controllers = %q, want %q", got[0].Controllers, tt.firstCtl)
			}
		})
	}
}

func TestUserServiceCgroup(t *testing.T) {
	tests := []struct {
		in   string
		uid  int
		want string
		ok   bool
	}{
		{"/user.slice/user-1000.slice/user@1000.service/app.slice/docker.service", 1000, "/user.slice/user-1000.slice/user@1000.service", true},
		{"/user.slice/user-1000.slice/user@1000.service", 1000, "/user.slice/user-1000.slice/user@1000.service", true},
		{"/user.slice/user-1000.slice/session-3.scope", 1000, "", false},
		{"/user.slice/user-1001.slice/user@1001.service/init.scope", 1000, "", false},
		{"/custom.slice/user@1000.service/x", 1000, "/custom.slice/user@1000.service", true},
		{"/user@10000.service", 1000, "", false},
		{"/", 1000, "", false},
		{"", 1000, "", false},
		{"/a/../user@5.service/./b", 5, "/user@5.service", true},
	}
	for _, tt := range tests {
		got, ok := UserServiceCgroup(tt.in, tt.uid)
		if got != tt.want || ok != tt.ok {
			t.Errorf("UserServiceCgroup(%q, %d) = %q, %v; want %q, %v", tt.in, tt.uid, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseControllers(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"cpuset cpu io memory hugetlb pids rdma misc\n", []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"}, false},
		{"memory pids\n", []string{"memory", "pids"}, false},
		{"", []string{}, false},
		{"\n", []string{}, false},
		{"memory memory\tpids", []string{"memory", "pids"}, false},
		{"memory +cpu", nil, true},
		{"\x00\xff", nil, true},
		{"Memory", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseControllers([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseControllers(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && !slices.Equal(got, tt.want) {
			t.Errorf("ParseControllers(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMissing(t *testing.T) {
	want := []string{"cpu", "cpuset", "io", "memory", "pids"}
	if got := Missing([]string{"memory", "pids", "hugetlb"}, want); !slices.Equal(got, []string{"cpu", "cpuset", "io"}) {
		t.Errorf("Missing = %q", got)
	}
	if got := Missing(want, want); len(got) != 0 {
		t.Errorf("Missing(all) = %q", got)
	}
}

func FuzzParseProcCgroup(f *testing.F) {
	f.Add([]byte("0::/user.slice/user-1000.slice/user@1000.service/app.slice\n"))
	f.Add([]byte("9:name=systemd:/\n4:memory:/a\n0::/\n"))
	f.Add([]byte("x:y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ParseProcCgroup(data)
		if err != nil {
			if entries != nil {
				t.Fatalf("entries %v returned with error %v", entries, err)
			}
			return
		}
		for _, e := range entries {
			if e.ID < 0 || !strings.HasPrefix(e.Path, "/") {
				t.Fatalf("bad entry %+v", e)
			}
		}
		if p, ok := UnifiedCgroupPath(entries); ok {
			if !strings.HasPrefix(p, "/") {
				t.Fatalf("unified path %q is not absolute", p)
			}
			if svc, ok := UserServiceCgroup(p, 1000); ok && !strings.HasSuffix(svc, "/user@1000.service") {
				t.Fatalf("UserServiceCgroup(%q) = %q", p, svc)
			}
		}
	})
}

func FuzzParseControllers(f *testing.F) {
	f.Add([]byte("cpuset cpu io memory pids\n"))
	f.Add([]byte("memory memory +x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseControllers(data)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, c := range got {
			if !validController(c) || seen[c] {
				t.Fatalf("bad or duplicate controller %q in %q", c, got)
			}
			seen[c] = true
		}
		// Round trip: the list joined again parses to itself.
		again, err := ParseControllers([]byte(strings.Join(got, " ")))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("round trip %q → %q, %v", got, again, err)
		}
	})
}
