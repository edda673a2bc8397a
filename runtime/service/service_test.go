package service

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/rootless-doctor/rootless-doctor/runtime/service/fakesystemd"
)

func TestInstallUninstallOnAFakeManager(t *testing.T) {
	addr := fakesystemd.StartBus(t)
	m := fakesystemd.Start(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Connect(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	path := UnitPath(t.TempDir())
	spec := Spec{Exe: "/usr/local/bin/rootless-doctor", Net: "auto", Engine: []string{"/usr/sbin/dockerd", "--log-level", "debug info"}, Path: "/usr/bin:/bin"}
	if err := Install(ctx, c, path, spec); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := unit.DeserializeOptions(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range opts {
		got[o.Section+"."+o.Name] = o.Value
	}
	want := map[string]string{
		"Service.ExecStart":   `/usr/local/bin/rootless-doctor daemon --net auto -- /usr/sbin/dockerd --log-level "debug info"`,
		"Service.Delegate":    "yes",
		"Service.Restart":     "on-failure",
		"Service.KillMode":    "mixed",
		"Service.TasksMax":    "infinity",
		"Install.WantedBy":    "default.target",
		"Service.Environment": "PATH=/usr/bin:/bin",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if err := Uninstall(ctx, c, path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the unit file is still there: %v", err)
	}
	wantCalls := []string{
		"Reload", "EnableUnitFiles " + Name, "StartUnit " + Name + " replace",
		"StopUnit " + Name + " replace", "DisableUnitFiles " + Name, "Reload",
	}
	if calls := m.Calls(); !slices.Equal(calls, wantCalls) {
		t.Errorf("calls %q, want %q", calls, wantCalls)
	}
}

func TestConnectWithoutAManager(t *testing.T) {
	if _, err := Connect(context.Background(), ""); !errors.Is(err, ErrNoManager) {
		t.Errorf("no address: %v, want ErrNoManager", err)
	}
	addr := fakesystemd.StartBus(t) // a bus, but nobody owns org.freedesktop.systemd1
	if _, err := Connect(context.Background(), addr); !errors.Is(err, ErrNoManager) {
		t.Errorf("bus without systemd: %v, want ErrNoManager", err)
	}
	if _, err := Connect(context.Background(), "unix:path=/nonexistent/bus"); !errors.Is(err, ErrNoManager) {
		t.Errorf("missing socket: %v, want ErrNoManager", err)
	}
}

func TestExecQuote(t *testing.T) {
	for in, want := range map[string]string{
		"dockerd": "dockerd", "a b": `"a b"`, `x"y`: `"x\"y"`, "100%": "100%%", "$HOME": "$$HOME", "": `""`,
	} {
		if got := execQuote(in); got != want {
			t.Errorf("execQuote(%q) = %q, want %q", in, got, want)
		}
	}
}
