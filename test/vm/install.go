package vm

import (
	"context"
	"fmt"
	"strings"
)

// The install scenario runs `rootless-doctor install` as the account and compares what install
// says with the engine that answers on $XDG_RUNTIME_DIR/docker.sock afterwards. Docker's own
// unit (docker.service, from dockerd-rootless-setuptool.sh) serves the same socket, so it is
// stopped for the scenario and started again after.

// unitState is what the user manager and the journal say about rootless-doctor.service.
const unitState = `systemctl --user show rootless-doctor.service -p ActiveState -p Result -p NRestarts
journalctl --user -u rootless-doctor.service --no-pager -o cat | grep -E '✗|not starting|Start request repeated|exited' | tail -n 6`

const unitFile = "~/.config/systemd/user/rootless-doctor.service"

func runInstall(ctx context.Context, l *Lab, rec *Recorder) error {
	// Docker's own unit as the reference: what the same engine does under a Delegate=yes user
	// unit that nobody preflights.
	ref, err := l.Engine(ctx, ViaLogin, "docker", "limits")
	if err != nil {
		return err
	}
	l.Cleanup(func(ctx context.Context) error {
		_, err := l.User(ctx, ViaLogin, DoctorPath+" uninstall; rm -f "+unitFile+
			"; systemctl --user daemon-reload; systemctl --user reset-failed; systemctl --user enable --now docker.service")
		return err
	})
	if _, err := l.User(ctx, ViaLogin, "systemctl --user disable --now docker.service"); err != nil {
		return err
	}

	for _, c := range []struct {
		step, args, known string
	}{
		// The engine looked up as install does it: the first of dockerd, containerd,
		// buildkitd on the account's PATH.
		{"install", "", "#2"},
		// The engine named by its path, so that the engine lookup is out of the way.
		{"install -- /usr/sbin/dockerd", " -- /usr/sbin/dockerd", "#2,#4"},
	} {
		if err := l.installOnce(ctx, rec, c.step, c.args, c.known, ref); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lab) installOnce(ctx context.Context, rec *Recorder, step, args, known string, ref Engine) error {
	inst, err := l.User(ctx, ViaLogin, DoctorPath+" install"+args)
	if err != nil {
		return err
	}
	exec, err := l.User(ctx, ViaLogin, "grep '^ExecStart=' "+unitFile)
	if err != nil {
		return err
	}
	docker, err := l.Engine(ctx, ViaLogin, "docker", "api", "limits")
	if err != nil {
		return err
	}
	state, err := l.User(ctx, ViaLogin, unitState)
	if err != nil {
		return err
	}
	said := fmt.Sprintf("install exit %d: %s", inst.Code, firstLine(inst.Stdout+inst.Stderr))
	unit := strings.Join(strings.Fields(state.Stdout), " ")
	rec.Add(Row{Step: step, Claim: "install says", Doctor: said,
		Engine: fmt.Sprintf("%s (unit: %s)", docker.Short(), clip(unit, 160)),
		Agree:  inst.OK() == docker.Works}, known)

	if args == "" {
		// On Debian dockerd is in /usr/sbin, off an ordinary account's PATH; containerd, in
		// /usr/bin, is only there as docker.io's dependency. The unit may name it by another
		// path to the same file (/sbin/dockerd on a merged /usr), so the guest resolves it.
		execStart := strings.TrimSpace(exec.Stdout)
		picked := ""
		if _, after, ok := strings.Cut(execStart, " -- "); ok && len(strings.Fields(after)) > 0 {
			picked = strings.Fields(after)[0]
		}
		same := false
		if picked != "" {
			r, err := l.User(ctx, ViaLogin, fmt.Sprintf("test %q -ef /usr/sbin/dockerd", picked))
			if err != nil {
				return err
			}
			same = r.OK()
		}
		rec.Add(Row{Step: step, Claim: "engine picked", Doctor: clip(execStart, 120),
			Engine: "the engine installed: docker.io (dockerd in /usr/sbin)",
			Agree:  same}, "#3")
	}
	if strings.Contains(state.Stdout, "✗ runtime.cgroup") {
		rec.Add(Row{Step: step, Claim: "preflight in the unit", Doctor: "refuses: " + clip(lineWith(state.Stdout, "✗ runtime.cgroup"), 120),
			Engine: "the same dockerd under Docker's Delegate=yes unit: " + ref.String(),
			Agree:  !ref.Limits}, "#4")
	}
	if docker.Works {
		// The user manager restarted (as after an upgrade of systemd): the unit comes back.
		if _, err := l.User(ctx, ViaLogin, "systemctl --user daemon-reexec"); err != nil {
			return err
		}
		again, err := l.Engine(ctx, ViaLogin, "docker", "api")
		if err != nil {
			return err
		}
		rec.Add(Row{Step: step, Claim: "after daemon-reexec", Doctor: "installed, enabled",
			Engine: again.Short(), Agree: again.Works}, "")
	}
	un, err := l.User(ctx, ViaLogin, DoctorPath+" uninstall")
	if err != nil {
		return err
	}
	gone, err := l.User(ctx, ViaLogin, "test ! -e "+unitFile+" && ! systemctl --user is-active -q rootless-doctor.service && ! test -S \"$XDG_RUNTIME_DIR/docker.sock\"")
	if err != nil {
		return err
	}
	rec.Add(Row{Step: step, Claim: "uninstall", Doctor: fmt.Sprintf("uninstall exit %d: %s", un.Code, firstLine(un.Stdout+un.Stderr)),
		Engine: map[bool]string{true: "unit file, service and socket gone", false: "something left behind"}[gone.OK()],
		Agree:  gone.OK()}, "")
	// A failed unit stays listed until reset; the next install starts from scratch.
	_, err = l.User(ctx, ViaLogin, "systemctl --user reset-failed rootless-doctor.service 2>/dev/null; true")
	return err
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return clip(s, 100)
}

func lineWith(s, sub string) string {
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}
