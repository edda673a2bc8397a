package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var lsmSELinux = Probe{
	ID:    "lsm.selinux",
	Title: "SELinux and the rootless engines",
	Fails: "enforcing, and dockerd-rootless.sh does not relabel /run for iptables (fail); podman's graphroot outside the default places without the container storage labels (warn)",
	Why: "With SELinux enforcing, what the engines' helpers may touch is decided by the loaded policy. " +
		"dockerd-rootless.sh before Docker 20.10.8 (and containerd-rootless.sh before nerdctl#136) does not " +
		"relabel the private /run RootlessKit gives dockerd, so iptables may not open /run/xtables.lock and " +
		"dockerd cannot start (docs/failures/catalogue.json#xtables-lock-selinux, moby/moby#41230). A " +
		"graphroot moved off the default places keeps the labels of its new place (default_t), which " +
		"container processes may not use (#selinux-graphroot-mislabelled, containers-storage.conf(5)). " +
		"Denials of user namespace creation or of pasta by the policy itself show only when the engine runs " +
		"(#selinux-denies-userns-create, #pasta-selinux-denied): the live proof meets them.",
	Reads: []string{
		selinuxEnforce,
		"/sys/fs/selinux/class/user_namespace",
		"dockerd-rootless.sh, containerd-rootless.sh on PATH (their text)",
		"podman's graphroot; `stat -c %C GRAPHROOT/overlay`, else `matchpathcon -n GRAPHROOT/overlay`",
	},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runLsmSELinux,
}

// selinuxUsernsClass exists when the loaded policy mediates user namespace creation (the
// user_namespace class, Linux 6.7 and policies since 2024).
const selinuxUsernsClass = "/sys/fs/selinux/class/user_namespace"

// xtablesRelabel is what the rootless setup scripts run since Docker 20.10.8 (moby/moby#42199)
// and nerdctl#136: the private /run gets iptables' label, so iptables_t may create its lock.
const xtablesRelabel = "iptables_var_run_t"

// graphrootTypes are the labels the storage of the default places gets (container-selinux
// container.fc: HOME_DIR/.local/share/containers/storage/overlay(/.*)? and
// /var/lib/containers/storage/overlay(/.*)? are container_ro_file_t).
var graphrootTypes = map[string]bool{"container_ro_file_t": true, "container_file_t": true}

func runLsmSELinux(ctx context.Context, e *facts.Env) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	data, err := e.Host.ReadFile(selinuxEnforce)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return finding.Skipf("SELinux is not enabled (no %s)", selinuxEnforce)
	case err != nil:
		return finding.Undecided(err, "cannot read %s", selinuxEnforce)
	}
	mode := strings.TrimSpace(string(data))
	r := finding.Result{}.With(selinuxEnforce, mode)
	if mode != "1" {
		return r.WithStatus(finding.Pass, "SELinux is permissive: denials are logged, not enforced")
	}
	var found []string
	var fails, warns []finding.Result
	for _, script := range []string{"dockerd-rootless.sh", "containerd-rootless.sh"} {
		res, ok := xtablesLabel(e, script)
		if ok {
			found = append(found, script)
			if res.Status == finding.Fail {
				fails = append(fails, res)
			} else {
				r.Evidence = append(r.Evidence, res.Evidence...)
			}
		}
	}
	if d, inUse := e.PodmanDataRoot(); inUse && d.From != "default" {
		res := graphrootLabel(ctx, e, d)
		switch res.Status {
		case finding.Warn:
			warns = append(warns, res)
		default:
			r.Evidence = append(r.Evidence, res.Evidence...)
			r.Details = append(r.Details, res.Details...)
		}
	}
	if _, err := e.Host.Stat(selinuxUsernsClass); err == nil {
		r = r.With(selinuxUsernsClass, "present").
			Detail("The loaded policy mediates user namespace creation (the user_namespace class): a policy that denies it to the engine's domain (hardened images such as secureblue) shows only when a namespace is created — `cannot clone: Permission denied` and an AVC for tclass=user_namespace; the live proof (runtime.userns) meets it.")
	}
	if _, err := e.LookPath("pasta"); err == nil {
		r = r.Detail("pasta runs confined as pasta_t where passt-selinux is installed; a policy older than pasta shows as `pasta failed … Permission denied` and AVCs for comm=pasta (podman#26157): `rootless-doctor prove --net pasta` meets it (runtime.network).")
	}
	switch {
	case len(fails) > 0:
		return mergeResults(append(append(fails, warns...), r.WithStatus(finding.Pass, "SELinux is enforcing")))
	case len(warns) > 0:
		return mergeResults(append(warns, r.WithStatus(finding.Pass, "SELinux is enforcing")))
	}
	if len(found) > 0 {
		return r.WithStatus(finding.Pass, "SELinux is enforcing; the rootless setup scripts (%s) relabel /run for iptables", strings.Join(found, ", "))
	}
	return r.WithStatus(finding.Pass, "SELinux is enforcing; nothing the static checks know of is denied")
}

// xtablesLabel judges one rootless setup script on PATH: ok is false when it is not installed.
func xtablesLabel(e *facts.Env, name string) (finding.Result, bool) {
	p, err := e.LookPath(name)
	if err != nil {
		return finding.Result{}, false
	}
	data, err := e.Host.ReadFile(p)
	if err != nil {
		return finding.Result{}.With(p, fmt.Sprintf("unreadable: %v", err)), true
	}
	if strings.Contains(string(data), xtablesRelabel) {
		return finding.Result{}.With(p, "relabels /run with "+xtablesRelabel), true
	}
	engine := "rootless dockerd"
	if name == "containerd-rootless.sh" {
		engine = "rootless containerd (nerdctl)"
	}
	return finding.Result{}.With(p, "no "+xtablesRelabel+" relabel").
		WithStatus(finding.Fail, "%s does not relabel the private /run for iptables: with SELinux enforcing %s cannot set up its network (`can't open lock file /run/xtables.lock: Permission denied`)", p, engine).
		Detail("Since Docker 20.10.8 (moby/moby#42199) and nerdctl#136 the script runs `chcon system_u:object_r:%s:s0 /run` inside RootlessKit; older scripts leave iptables_t without access to its lock (moby/moby#41230, container-selinux#388).", xtablesRelabel).
		Fix(finding.ManualStep("selinux-xtables-lock", fmt.Sprintf(
			"upgrade the package that installs %s (Docker 20.10.8 or later: docker-ce-rootless-extras; nerdctl: a current containerd-rootless.sh); until then, as root: semanage permissive -a iptables_t",
			p))), true
}

// graphrootLabel judges the SELinux label of podman's graphroot where it is not in a default
// place: the overlay directory there must be container_ro_file_t like the default's
// (catalogue selinux-graphroot-mislabelled; podman#22384, containers-storage.conf(5)).
func graphrootLabel(ctx context.Context, e *facts.Env, d facts.DataRoot) finding.Result {
	overlay := path.Join(d.Path, "overlay")
	argv := []string{"matchpathcon", "-n", overlay}
	what := "the label new files there get"
	if fi, err := e.Host.Stat(overlay); err == nil && fi.IsDir() {
		argv, what = []string{"stat", "-c", "%C", overlay}, "its label"
	}
	r := finding.Result{}
	out, err := e.Host.Run(ctx, argv...)
	if err != nil || out.ExitCode != 0 {
		return r.Detail("Could not read the SELinux label of podman's graphroot %s (%s).", homeRel(e, d.Path), strings.Join(argv, " "))
	}
	ctxStr := strings.TrimSpace(string(out.Stdout))
	typ, ok := parse.SELinuxType(ctxStr)
	r = r.With(strings.Join(argv, " "), finding.Clip(ctxStr, 120))
	if !ok || graphrootTypes[typ] {
		return r
	}
	def := path.Join(e.User.Home, ".local/share/containers/storage")
	return r.WithStatus(finding.Warn, "podman's graphroot %s (from %s) is labelled %s (%s), not container_ro_file_t like the default place: containers may be denied their own files", homeRel(e, d.Path), d.From, typ, what).
		Detail("Container processes run as container_t and may not use files labelled %s: they fail with `Permission denied` or `cannot apply additional memory protection after relocation` (podman#22384, podman#2558).", typ).
		Fix(finding.ManualStep("selinux-graphroot-label", fmt.Sprintf(
			"label the graphroot like the default one: as root semanage fcontext -a -e %s %s && restorecon -R -v %s",
			def, d.Path, d.Path)))
}
