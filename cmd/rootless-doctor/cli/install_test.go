package cli

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/runtime/service/fakesystemd"
)

func asAccount(t *testing.T) string {
	t.Helper()
	geteuid = func() int { return 1000 }
	t.Cleanup(func() { geteuid = os.Geteuid })
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	return home
}

func TestInstallAndUninstallOverTheUserBus(t *testing.T) {
	home := asAccount(t)
	addr := fakesystemd.StartBus(t)
	m := fakesystemd.Start(t, addr)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)

	ios, _, out, errOut := TestIO()
	f := &Factory{IO: ios}
	if code := Execute(context.Background(), f, []string{"install", "--net", "gvisor", "--", "true", "-x"}); code != ExitOK {
		t.Fatalf("install: exit %d\n%s", code, errOut.String())
	}
	path := filepath.Join(home, ".config", "systemd", "user", "rootless-doctor.service")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, want := range []string{" daemon --net gvisor -- ", "/true -x\n", "Delegate=yes", "KillMode=mixed", "Restart=on-failure", "WantedBy=default.target"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	for _, want := range []string{"rootless-doctor.service is up", "Linger is"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("install output lacks %q:\n%s", want, out.String())
		}
	}
	if code := Execute(context.Background(), f, []string{"uninstall"}); code != ExitOK {
		t.Fatalf("uninstall: exit %d\n%s", code, errOut.String())
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("unit file still there: %v", err)
	}
	want := []string{"Reload", "EnableUnitFiles rootless-doctor.service", "StartUnit rootless-doctor.service replace",
		"StopUnit rootless-doctor.service replace", "DisableUnitFiles rootless-doctor.service", "Reload"}
	if calls := m.Calls(); !slices.Equal(calls, want) {
		t.Errorf("calls %q, want %q", calls, want)
	}
}

// --dry-run prints the unit install would write (Type=notify: install waits for the engine)
// and changes nothing: no unit file, no bus.
func TestInstallDryRun(t *testing.T) {
	home := asAccount(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(home, "no-bus"))
	t.Setenv("PATH", "/usr/bin:/bin")
	ios, _, out, errOut := TestIO()
	if code := Execute(context.Background(), &Factory{IO: ios}, []string{"install", "--dry-run", "--", "true", "-x"}); code != ExitOK {
		t.Fatalf("exit %d\n%s", code, errOut.String())
	}
	for _, want := range []string{"# " + filepath.Join(home, ".config/systemd/user/rootless-doctor.service") + " (not written: --dry-run)\n",
		"[Service]\n", "Type=notify\n", "NotifyAccess=main\n", " daemon --net auto -- ", "/true -x\n",
		"Environment=PATH=/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := os.Stat(filepath.Join(home, ".config")); err == nil {
		t.Error("--dry-run wrote a unit")
	}
}

func TestInstallWithoutAUserManager(t *testing.T) {
	home := asAccount(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(home, "no-bus"))
	ios, _, _, errOut := TestIO()
	f := &Factory{IO: ios}
	if code := Execute(context.Background(), f, []string{"install", "--", "true"}); code != ExitFindings {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{"no systemd user manager", "rootless-doctor daemon -- "} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
	if _, err := os.Stat(filepath.Join(home, ".config")); err == nil {
		t.Error("install wrote a unit without a manager to load it")
	}
}

func TestInstallRefusesRoot(t *testing.T) {
	geteuid = func() int { return 0 }
	t.Cleanup(func() { geteuid = os.Geteuid })
	ios, _, _, _ := TestIO()
	if code := Execute(context.Background(), &Factory{IO: ios}, []string{"install", "--", "true"}); code != ExitError {
		t.Errorf("exit %d, want 2", code)
	}
}
