package vm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// These tests cover the harness's own logic without booting anything; the lab itself is
// lab_test.go (build tag vmtest).

// report builds a minimal rootless-doctor/v1 JSON report.
func report(ok bool, results ...string) string {
	return `{"schema":"rootless-doctor/v1","results":[` + strings.Join(results, ",") + `],"ok":` + map[bool]string{true: "true", false: "false"}[ok] + `}`
}

func result(id, status, summary string, evidence ...[2]string) string {
	var ev []string
	for _, e := range evidence {
		ev = append(ev, `{"source":"`+e[0]+`","value":"`+e[1]+`"}`)
	}
	return `{"id":"` + id + `","status":"` + status + `","summary":"` + summary + `","evidence":[` + strings.Join(ev, ",") + `]}`
}

func mustDoctor(t *testing.T, js string) Doctor {
	t.Helper()
	d, err := ParseDoctor(js, 0)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestParseDoctorRejectsGarbage(t *testing.T) {
	for _, in := range []string{"", "not json", `{"schema":"other/v2","results":[],"ok":true}`} {
		if _, err := ParseDoctor(in, 2); err == nil {
			t.Errorf("ParseDoctor(%q): no error", in)
		}
	}
}

func TestLimitsClaim(t *testing.T) {
	for _, c := range []struct {
		name    string
		results []string
		want    Limits
	}{
		{"proof passed", []string{result("runtime.cgroup", "pass", "")}, LimitsEnforced},
		{"proof failed", []string{result("runtime.cgroup", "fail", "")}, LimitsNotEnforced},
		{"v2, proof skipped", []string{result("cgroup.version", "pass", ""), result("runtime.cgroup", "skip", "")}, LimitsUnproven},
		{"v1", []string{result("cgroup.version", "warn", ""), result("runtime.cgroup", "skip", "")}, LimitsIgnored},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := mustDoctor(t, report(true, c.results...)).LimitsClaim(); got != c.want {
				t.Errorf("LimitsClaim = %v, want %v", got, c.want)
			}
		})
	}
}

func TestDelegated(t *testing.T) {
	d := mustDoctor(t, report(true, result("cgroup.delegation", "warn", "",
		[2]string{"/proc/self/cgroup", "0::/user.slice/user-1000.slice/session-3.scope"},
		[2]string{"/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers", "cpu memory pids"},
		[2]string{"/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids"})))
	got, ok := d.Delegated()
	if !ok || strings.Join(got, " ") != "cpu memory pids" {
		t.Errorf("Delegated = %q, %v; want cpu memory pids", got, ok)
	}
	none := mustDoctor(t, report(true, result("cgroup.delegation", "fail", "",
		[2]string{"/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers", "none"})))
	if got, ok := none.Delegated(); !ok || len(got) != 0 {
		t.Errorf("Delegated of none = %q, %v", got, ok)
	}
	absent := mustDoctor(t, report(true, result("cgroup.delegation", "warn", "",
		[2]string{"/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers", "(absent)"})))
	if _, ok := absent.Delegated(); ok {
		t.Error("Delegated read an absent cgroup")
	}
}

func TestParseEngine(t *testing.T) {
	out := `docker.install=0
docker.up=yes
docker.run=0
docker.chown=ok
docker.memory=67108864
docker.pids=50
docker.forks=48
docker.cpuset_run=0
docker.cpuset=none
docker.port=yes
podman.run=0
noise without equals
`
	e := ParseEngine("docker", out)
	if !e.Works || !e.Limits || e.Cpuset || !e.Port || e.Forks != 48 {
		t.Errorf("ParseEngine = %+v", e)
	}
	if _, ok := e.KV["run"]; !ok || len(e.KV) != 10 {
		t.Errorf("keys of other engines or noise leaked in: %v", e.KV)
	}
	// A pids.max of 50 that did not stop 80 forks is not an applied limit.
	e = ParseEngine("podman", "podman.run=0\npodman.memory=67108864\npodman.pids=50\npodman.forks=80\n")
	if e.Limits {
		t.Error("80 of 80 forks counted as an enforced limit")
	}
	// A container that ran but could not chown to another id (a single-id user namespace)
	// does not count as working.
	if e := ParseEngine("podman", "podman.run=0\npodman.chown=failed\n"); e.Works || !strings.Contains(e.String(), "chown=failed") {
		t.Errorf("single-id podman: %+v, %q", e, e.String())
	}
	e = ParseEngine("docker", "docker.install=1\ndocker.up=no\n")
	if e.Works || !strings.Contains(e.String(), "install=1") {
		t.Errorf("failed engine: %+v, %q", e, e.String())
	}
}

func TestReadyClaimBothWays(t *testing.T) {
	ready := mustDoctor(t, report(true, result("userns.clone", "pass", "")))
	notReady := mustDoctor(t, report(false, result("userns.clone", "fail", "")))
	works := ParseEngine("docker", "docker.run=0\ndocker.chown=ok\n")
	fails := ParseEngine("docker", "docker.up=no\n")
	for _, c := range []struct {
		d    Doctor
		e    Engine
		want bool
	}{{ready, works, true}, {notReady, fails, true}, {ready, fails, false}, {notReady, works, false}} {
		if got := ReadyClaim("s", c.d, c.e).Agree; got != c.want {
			t.Errorf("ReadyClaim(%s, %s).Agree = %v, want %v", c.d.Verdict(), c.e.Short(), got, c.want)
		}
	}
	// net.iptables is about dockerd: Podman is not held to it.
	iptables := mustDoctor(t, report(false, result("net.iptables", "fail", "")))
	if !ReadyClaim("s", iptables, ParseEngine("podman", "podman.run=0\npodman.chown=ok\n")).Agree {
		t.Error("a net.iptables failure disagreed with a working podman")
	}
	// engine.docker folds net.iptables in (the VM lab, debian13 modules: Docker's setup tool
	// refuses without ip_tables): it is Docker's verdict, not Podman's, and the other way round.
	docker := mustDoctor(t, report(false, result("net.iptables", "fail", ""), result("engine.docker", "fail", "")))
	if !ReadyClaim("s", docker, ParseEngine("podman", "podman.run=0\npodman.chown=ok\n")).Agree {
		t.Error("an engine.docker failure disagreed with a working podman")
	}
	podman := mustDoctor(t, report(false, result("engine.podman", "fail", "")))
	if ReadyClaim("s", podman, ParseEngine("podman", "podman.run=0\npodman.chown=ok\n")).Agree ||
		!ReadyClaim("s", podman, works).Agree {
		t.Error("engine.podman's failure is not Podman's alone")
	}
}

func TestLimitsClaimRow(t *testing.T) {
	applied := ParseEngine("docker", "docker.run=0\ndocker.memory=67108864\ndocker.pids=50\ndocker.forks=48\n")
	ignored := ParseEngine("docker", "docker.run=0\ndocker.memory=max\ndocker.pids=max\ndocker.forks=80\n")
	skipped := mustDoctor(t, report(true, result("cgroup.version", "pass", ""), result("runtime.cgroup", "skip", "")))
	if r, ok := LimitsClaim("s", skipped, applied); !ok || r.Agree {
		t.Errorf("an unproven claim agreed: %+v", r)
	}
	v1 := mustDoctor(t, report(true, result("cgroup.version", "warn", ""), result("runtime.cgroup", "skip", "")))
	if r, _ := LimitsClaim("s", v1, ignored); !r.Agree {
		t.Errorf("v1, limits not applied: %+v", r)
	}
	// Rootless Podman on v1 refuses the container with limits and runs one without: ready,
	// and the limits are not applied, as the doctor says.
	refused := ParseEngine("podman", "podman.limits_run=126\npodman.run=0\npodman.chown=ok\n")
	if !refused.Works || !refused.LimitsRefused || refused.Limits || !strings.Contains(refused.String(), "REFUSED") {
		t.Errorf("refused limits: %+v %q", refused, refused.String())
	}
	if r, ok := LimitsClaim("s", v1, refused); !ok || !r.Agree {
		t.Errorf("v1, limits refused: %+v, %v", r, ok)
	}
	if r, ok := LimitsClaim("s", skipped, refused); !ok || r.Agree {
		t.Errorf("v2 unproven, limits refused, agreed: %+v", r)
	}
	if _, ok := LimitsClaim("s", v1, ParseEngine("docker", "docker.up=no\n")); ok {
		t.Error("a claim with no working engine was recorded")
	}
}

func TestMatrixWrite(t *testing.T) {
	var m Matrix
	rec := &Recorder{Matrix: &m, Guest: "debian12", Scenario: "stock"}
	rec.Add(Row{Step: "as installed", Claim: "ready", Doctor: "ready", Engine: "docker runs", Agree: true}, "#1")
	rec.Add(Row{Step: "as installed", Claim: "limits", Doctor: "unproven", Engine: "applied"}, "#1")
	(&Recorder{Matrix: &m, Guest: "debian13", Scenario: "stock"}).Add(Row{Claim: "ready", Agree: true}, "")
	m.Time("total", 90*time.Second)
	m.Skip("debian13", "install")
	m.Note("debian11-cgv1/delegate skipped: cgroup v1")
	var b strings.Builder
	m.Write(&b)
	out := b.String()
	for _, want := range []string{"DISAGREE 1/2 known #1", "agree (1)", "NO (known #1)", "total  1m30s", "3 comparisons, 1 disagree; 1 guest/scenario cells NOT RUN", "note: debian11-cgv1", "NOT RUN"} {
		if !strings.Contains(out, want) {
			t.Errorf("matrix lacks %q:\n%s", want, out)
		}
	}
	if rec.Rows[0].Known != "" {
		t.Error("an agreeing row kept its known-problem mark")
	}
	if len(m.Disagreements()) != 1 {
		t.Errorf("Disagreements = %v", m.Disagreements())
	}
}

func TestCacheKey(t *testing.T) {
	s, err := SuiteByName("bookworm")
	if err != nil {
		t.Fatal(err)
	}
	k := CacheKey(s, DefaultMirrors)
	if k != CacheKey(s, DefaultMirrors) || len(k) != 16 {
		t.Fatalf("CacheKey not stable or wrong length: %q", k)
	}
	more := s
	more.Packages = append(append([]string(nil), s.Packages...), "strace")
	other := DefaultMirrors
	other.Debian = "http://mirror.example/debian"
	bullseye, _ := SuiteByName("bullseye")
	for name, k2 := range map[string]string{
		"package list": CacheKey(more, DefaultMirrors),
		"mirror":       CacheKey(s, other),
		"suite":        CacheKey(bullseye, DefaultMirrors),
	} {
		if k2 == k {
			t.Errorf("a change of the %s keeps the cache key", name)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{"VMLAB_GUESTS": "debian12,debian11-cgv1", "VMLAB_SCENARIOS": "install,stock,modules", "VMLAB_CACHE": "/c"}
	c, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Guests) != 2 || c.Guests[1].Name != "debian11-cgv1" || c.Cache != "/c" {
		t.Errorf("config = %+v", c)
	}
	if got := strings.Join(c.ScenariosFor(c.Guests[0]), ","); got != "modules,stock,install" {
		t.Errorf("scenarios in run order = %s", got)
	}
	for k, v := range map[string]string{"VMLAB_GUESTS": "debian99", "VMLAB_SCENARIOS": "nope", "VMLAB_ACCEL": "hvf", "VMLAB_BOOT_TIMEOUT": "-1s", "VMLAB_BUDGET": "soon"} {
		if _, err := ConfigFromEnv(func(key string) string { return map[string]string{k: v}[key] }); err == nil {
			t.Errorf("%s=%s accepted", k, v)
		}
	}
	def, err := ConfigFromEnv(func(string) string { return "" })
	if err != nil || def.Cache != DefaultCache || len(def.Guests) != len(Guests) {
		t.Errorf("defaults: %+v, %v", def, err)
	}
}

func TestCheckHostToolsNamesPackages(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := CheckHostTools()
	if !errors.Is(err, ErrMissingTool) || !strings.Contains(err.Error(), "qemu-system-x86_64 (package qemu-system-x86)") {
		t.Errorf("CheckHostTools with an empty PATH: %v", err)
	}
}

func TestBuildsInGuestOrderOnceEach(t *testing.T) {
	var order []string
	release := make(chan struct{})
	ensure := func(_ context.Context, s Suite) (Image, bool, error) {
		order = append(order, s.Name)
		if s.Name == "bookworm" {
			<-release // the second build waits: the first image must be usable before it ends
		}
		if s.Name == "trixie" {
			return Image{}, false, errors.New("mirror down")
		}
		return Image{Suite: s, Dir: "/c/" + s.Name}, s.Name == "bullseye", nil
	}
	guests := []Guest{{Name: "a", Suite: "bullseye"}, {Name: "b", Suite: "bullseye"}, {Name: "c", Suite: "bookworm"}, {Name: "d", Suite: "trixie"}}
	b, err := StartBuilds(context.Background(), guests, ensure)
	if err != nil {
		t.Fatal(err)
	}
	if r := b.Wait(context.Background(), "bullseye"); r.Err != nil || !r.Cached || r.Image.Dir != "/c/bullseye" {
		t.Errorf("bullseye: %+v", r)
	}
	close(release)
	if r := b.Wait(context.Background(), "trixie"); r.Err == nil {
		t.Error("a failed build reported no error")
	}
	b.WaitAll(context.Background())
	if strings.Join(order, ",") != "bullseye,bookworm,trixie" {
		t.Errorf("build order %v", order)
	}
	if r := b.Wait(context.Background(), "sid"); r.Err == nil {
		t.Error("waiting for a suite never started did not fail")
	}
	if _, err := StartBuilds(context.Background(), []Guest{{Name: "x", Suite: "buster"}}, ensure); err == nil {
		t.Error("an unknown suite was accepted")
	}
}

// The debian12 guest, after Podman had made vfs-images: storage.driver puts Podman's warning
// first and Docker's driver in an "also: " detail; the storage claim compares Docker's.
func TestStorageDriverIsDockers(t *testing.T) {
	d := mustDoctor(t, report(true, result("storage.driver", "pass", "overlay2 (native overlay in user namespaces, kernel 6.1); podman: overlay (native)")))
	if got := d.StorageDriver(); got != "overlay2" {
		t.Errorf("docker first: %q", got)
	}
	warn := `{"id":"storage.driver","status":"warn","summary":"podman: vfs (from existing state): every layer is a full copy","details":["overlay would work here.","also: overlay2 (native overlay in user namespaces, kernel 6.1)"],"evidence":[]}`
	d = mustDoctor(t, report(true, warn))
	if got := d.StorageDriver(); got != "overlay2" {
		t.Errorf("podman first: %q, want overlay2 from the also: detail", got)
	}
	d = mustDoctor(t, report(true, result("storage.driver", "warn", "podman: vfs (default)")))
	if got := d.StorageDriver(); got != "" {
		t.Errorf("no Docker driver named: %q", got)
	}
}
