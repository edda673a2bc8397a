package checks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

var conflictRootful = Probe{
	ID:    "conflict.rootful",
	Title: "Rootful Docker in the way",
	Fails: "a rootful daemon is reachable, or the CLI points elsewhere (warn)",
	Why: "With DOCKER_HOST unset and no docker context selected, the docker CLI talks to " +
		"/var/run/docker.sock. When a rootful daemon listens there and the account may use it " +
		"(docker group), docker commands silently run as root instead of in the rootless daemon; " +
		"dockerd-rootless-setuptool.sh refuses to install then. A DOCKER_HOST pointing elsewhere " +
		"has the same effect.",
	Reads: []string{
		"/var/run/docker.sock, /run/docker.sock, /run/containerd/containerd.sock",
		"$DOCKER_HOST, $DOCKER_CONTEXT, $DOCKER_CONFIG",
		"~/.docker/config.json (currentContext) and the context's meta.json",
		"dockerd, dockerd-rootless.sh on PATH", "the docker.service user unit",
	},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runConflictRootful,
}

// rootfulDockerSockets are where a rootful dockerd listens (/var/run is usually a symlink to
// /run, so both are looked at and deduplicated).
var rootfulDockerSockets = []string{"/var/run/docker.sock", "/run/docker.sock"}

const rootfulContainerdSocket = "/run/containerd/containerd.sock"

func runConflictRootful(_ context.Context, e *facts.Env) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	r := finding.Result{}
	rootless := "unix://" + path.Join(e.RuntimeDir(), "docker.sock")

	// 1. A rootful daemon the account can reach.
	var reachable []string
	seen := map[string]bool{}
	for _, p := range rootfulDockerSockets {
		real, err := e.Host.EvalSymlinks(p)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				r = r.Detail("cannot look at %s: %v", p, err)
			}
			continue
		}
		if seen[real] {
			continue
		}
		seen[real] = true
		fi, err := e.Host.Stat(p)
		if err != nil {
			r = r.Detail("cannot stat %s: %v", p, err)
			continue
		}
		r = r.With(p, fmt.Sprintf("%s mode %04o owner %d:%d", host.ModeKind(fi.Mode), fi.Mode.Perm(), fi.UID, fi.GID))
		switch {
		case fi.Mode&fs.ModeSocket == 0:
			r = r.Detail("%s exists but is not a socket (a leftover from a bind mount?); nothing listens there.", p)
		case e.CanReadWrite(fi):
			reachable = append(reachable, p)
		default:
			r = r.Detail("A rootful dockerd listens at %s, but %s cannot use it (not in group %d): no conflict.", p, e.User.Name, fi.GID)
		}
	}

	// 2. Where the docker CLI of the account will connect: DOCKER_HOST, else the context
	// (DOCKER_CONTEXT, else currentContext in config.json), else /var/run/docker.sock.
	target, from, known := dockerCLITarget(e, &r)

	// 3. Details that explain the situation without changing the verdict.
	if fi, err := e.Host.Stat(rootfulContainerdSocket); err == nil && fi.Mode&fs.ModeSocket != 0 {
		r = r.Detail("A rootful containerd listens at %s; nerdctl talks to it unless run as rootless (containerd-rootless-setuptool.sh install).", rootfulContainerdSocket)
	}
	r = rootlessToolingDetail(e, r)

	switch {
	case known && !sameDockerHost(target, rootless) && from == "DOCKER_HOST":
		res := r.WithStatus(finding.Warn, "DOCKER_HOST=%s: docker commands go there, not to the rootless daemon at %s", target, rootless).
			Detail("Rootless Docker listens at $XDG_RUNTIME_DIR/docker.sock; set DOCKER_HOST=%s, or unset it and run `docker context use rootless`.", rootless).
			Fix(finding.ManualStep("docker-host", fmt.Sprintf("set DOCKER_HOST=%s in %s's shell profile (or unset it and select the rootless docker context)", rootless, e.User.Name)))
		return withRootfulFix(res, reachable)
	case known && !sameDockerHost(target, rootless) && from != "default":
		res := r.WithStatus(finding.Warn, "the docker context %s points at %s, not at the rootless daemon at %s", from, target, rootless).
			Fix(finding.ManualStep("docker-context", fmt.Sprintf("select the rootless context: docker context use rootless (dockerd-rootless-setuptool.sh install creates it, endpoint %s)", rootless)))
		return withRootfulFix(res, reachable)
	case len(reachable) > 0 && known && from == "default":
		return withRootfulFix(r.WithStatus(finding.Warn, "docker commands go to the rootful daemon at %s: DOCKER_HOST is unset and no docker context is selected", reachable[0]).
			Detail("Select the rootless daemon with `docker context use rootless` or DOCKER_HOST=%s.", rootless), reachable)
	case len(reachable) > 0:
		return withRootfulFix(r.WithStatus(finding.Warn, "a rootful Docker daemon is reachable at %s: docker commands may talk to it instead of the rootless one", reachable[0]).
			Detail("Any shell or script without DOCKER_HOST (sudo, cron, CI steps) reaches the rootful daemon and runs containers as root."), reachable)
	}
	switch {
	case !known:
		return r.WithStatus(finding.Pass, "no rootful Docker daemon is reachable by %s", e.User.Name)
	case from == "default" && e.DockerRootless().Unit.Main != "":
		// docs/failures/catalogue.json#docker-host-endpoint-mismatch: rootless Docker is set up
		// for the account, and its CLI still looks for the rootful socket.
		u := e.DockerRootless().Unit
		return r.With(u.Main, "rootless Docker's user unit").
			WithStatus(finding.Warn, "docker commands go to /var/run/docker.sock, where no daemon listens: the rootless daemon %s set up listens at %s", e.User.Name, rootless).
			Detail("DOCKER_HOST is unset and no docker context is selected, so `docker` fails with `Cannot connect to the Docker daemon at unix:///var/run/docker.sock` (docker/docker-install#260, docker/cli#2860).").
			Fix(finding.ManualStep("docker-context", fmt.Sprintf("select the rootless daemon: docker context create rootless --docker host=%s && docker context use rootless (or set DOCKER_HOST=%s in %s's shell profile)", rootless, rootless, e.User.Name)))
	case from == "default":
		return r.WithStatus(finding.Pass, "no rootful Docker daemon is reachable by %s", e.User.Name).
			Detail("DOCKER_HOST is unset and no docker context is selected: the docker CLI will look for /var/run/docker.sock. Run `docker context use rootless` or set DOCKER_HOST=%s.", rootless)
	}
	return r.WithStatus(finding.Pass, "docker commands go to the rootless daemon (%s); no rootful daemon is reachable", from)
}

// withRootfulFix adds the fix for a reachable rootful daemon (catalogue
// rootful-docker-socket-conflict; docker/docs#19247).
func withRootfulFix(r finding.Result, reachable []string) finding.Result {
	if len(reachable) == 0 {
		return r
	}
	return r.Detail("dockerd-rootless-setuptool.sh refuses to install while %s is reachable (`Aborting because rootful Docker … is running and accessible`) unless given --force.", reachable[0]).
		Fix(finding.ManualStep("disable-rootful-docker", fmt.Sprintf(
			"stop the rootful Docker daemon if it is not needed (as root: systemctl disable --now docker.service docker.socket, then remove %s), or take the account out of the docker group", reachable[0])))
}

// dockerCLITarget finds where the account's docker CLI connects. known is false when that
// cannot be told (checking on behalf of another account: its environment is not visible).
// from is "DOCKER_HOST", "default", or the context name.
func dockerCLITarget(e *facts.Env, r *finding.Result) (target, from string, known bool) {
	if e.OnBehalf {
		*r = r.Detail("Checking on behalf of %s: their DOCKER_HOST and DOCKER_CONTEXT are not visible from here.", e.User.Name)
	}
	if v, ok := e.Getenv("DOCKER_HOST"); ok && v != "" {
		*r = r.With("$DOCKER_HOST", v)
		return v, "DOCKER_HOST", true
	}
	configDir := path.Join(e.User.Home, ".docker")
	if v, ok := e.Getenv("DOCKER_CONFIG"); ok && path.IsAbs(v) {
		configDir = path.Clean(v)
	}
	name := ""
	if v, ok := e.Getenv("DOCKER_CONTEXT"); ok && v != "" {
		name = v
		*r = r.With("$DOCKER_CONTEXT", v)
	} else {
		cfgPath := path.Join(configDir, "config.json")
		data, err := e.Host.ReadFile(cfgPath)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			*r = r.Detail("cannot read %s: %v", cfgPath, err)
			return "", "", false
		default:
			cfg, err := parse.ParseDockerCLIConfig(data)
			if err != nil {
				*r = r.Detail("%s: %v (the docker CLI rejects it too)", cfgPath, err)
				return "", "", false
			}
			name = cfg.CurrentContext
			if name != "" {
				*r = r.With(cfgPath, fmt.Sprintf("currentContext %q", name))
			}
		}
	}
	if name == "" || name == "default" {
		return "unix:///var/run/docker.sock", "default", !e.OnBehalf
	}
	// The CLI stores a context under the hex SHA-256 of its name (docker/cli
	// cli/context/store: contextdirOf).
	sum := sha256.Sum256([]byte(name))
	meta := path.Join(configDir, "contexts", "meta", hex.EncodeToString(sum[:]), "meta.json")
	data, err := e.Host.ReadFile(meta)
	if err != nil {
		*r = r.Detail("the docker context %q is selected but %s cannot be read: %v", name, meta, err)
		return "", "", false
	}
	_, h, err := parse.ParseDockerContextMeta(data)
	if err != nil || h == "" {
		*r = r.Detail("the docker context %q has no docker endpoint in %s", name, meta)
		return "", "", false
	}
	*r = r.With(meta, "Host "+h)
	return h, name, true
}

// sameDockerHost compares two docker endpoints, cleaning unix socket paths.
func sameDockerHost(a, b string) bool {
	norm := func(s string) string {
		s = strings.TrimSpace(s)
		if p, ok := strings.CutPrefix(s, "unix://"); ok && p != "" {
			return "unix://" + path.Clean(p)
		}
		return s
	}
	return norm(a) == norm(b)
}

// rootlessToolingDetail notes a Docker install without its rootless scripts (catalogue
// rootless-tooling-not-installed): docker-ce-rootless-extras ships dockerd-rootless.sh and
// dockerd-rootless-setuptool.sh; the get.docker.com/rootless script puts them in ~/bin.
func rootlessToolingDetail(e *facts.Env, r finding.Result) finding.Result {
	if _, err := e.LookPath("dockerd"); err != nil {
		return r
	}
	if _, err := e.LookPath("dockerd-rootless.sh"); err == nil {
		return r
	}
	for _, p := range []string{path.Join(e.User.Home, "bin", "dockerd-rootless.sh"), facts.DebianRootlessScript} {
		if _, err := e.Host.Stat(p); err == nil {
			return r.Detail("dockerd-rootless.sh is at %s, which is not on this PATH: run it (and dockerd-rootless-setuptool.sh) from there.", p)
		}
	}
	return r.Detail("dockerd is installed but dockerd-rootless.sh is not: install docker-ce-rootless-extras (or the get.docker.com/rootless script) for rootless Docker.")
}
