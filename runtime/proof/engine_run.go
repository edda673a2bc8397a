package proof

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// runPodman: `podman run --rm --network none --rootfs ROOT /rootless-doctor PAYLOAD`, as the
// account, with the account's containers.conf and storage.conf: whatever runtime, conmon and
// storage Podman resolves is what runs (docs/engines.md §1).
func runPodman(ctx context.Context, er *engineRun) finding.Result {
	bin, err := er.lookPath("podman")
	if err != nil {
		return finding.Skipf("podman is not installed (package podman)")
	}
	version, vo := engineVersion(ctx, er, bin, "Podman")
	if vo.err != nil || vo.exit != 0 {
		// Every podman command reads containers.conf and finds conmon first: a broken chain
		// fails `podman --version` already.
		return judge(EnginePodman, version, vo)
	}
	o := er.command(ctx, nil, bin, "run", "--rm", "--network", "none", "--rootfs", er.rootfs, "/"+payloadName, argEnginePayload)
	return judge(EnginePodman, version, o)
}

// runDocker: the account's running rootless daemon when `docker info` answers on its socket,
// else `rootless-doctor daemon --static --force -- dockerd` started for the run (--force: the
// engine's own failure is the answer, not the doctor's verdict). The image is written by this
// process into `docker load`; the container runs with --network none and the image is removed.
func runDocker(ctx context.Context, er *engineRun) finding.Result {
	docker, err := er.lookPath("docker")
	if err != nil {
		return finding.Skipf("the docker CLI is not installed (package docker.io or docker-ce-cli)")
	}
	version, vo := engineVersion(ctx, er, docker, "Docker")
	if vo.err != nil || vo.exit != 0 {
		return judge(EngineDocker, version, vo)
	}
	host, own := er.dockerHost(ctx, docker)
	var d *startedDaemon
	if !own {
		if _, err := er.lookPath("dockerd"); err != nil {
			return finding.Skipf("no rootless Docker daemon is running for %s and dockerd is not installed (package docker.io or docker-ce)", er.acct.name)
		}
		var o output
		d, o = er.startDaemon(ctx, docker, host)
		if d == nil {
			return judge(EngineDocker, version+" (rootless-doctor daemon -- dockerd)", o)
		}
		defer d.stop()
		version += " (rootless-doctor daemon -- dockerd)"
	}
	if so := er.command(ctx, nil, docker, "-H", host, "version", "--format", "{{.Server.Version}}"); so.err == nil && so.exit == 0 && strings.TrimSpace(so.stdout) != "" {
		// The daemon's version, not the CLI's: the two come from different packages.
		version = "Docker " + strings.TrimSpace(so.stdout)
		if d != nil {
			version += " (rootless-doctor daemon -- dockerd)"
		}
	}
	l, err := hashLayer(er.exe)
	if err != nil {
		return finding.Failf("writing the image: %v", err)
	}
	tag := imageTag(l.digest)
	lo := er.command(ctx, func(w *os.File) error { return writeImage(w, er.exe, l) }, docker, "-H", host, "load")
	if lo.err != nil || lo.exit != 0 {
		return judge(EngineDocker, version, d.with(lo))
	}
	o := er.command(ctx, nil, docker, "-H", host, "run", "--rm", "--network", "none", tag, argEnginePayload)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = er.command(rctx, nil, docker, "-H", host, "rmi", "-f", tag)
	return judge(EngineDocker, version, d.with(o))
}

// dockerHost is the socket to use, and whether a rootless daemon already answers there: the
// account's DOCKER_HOST when it names a unix socket, else $XDG_RUNTIME_DIR/docker.sock (where
// dockerd-rootless.sh and `rootless-doctor daemon` put it).
func (er *engineRun) dockerHost(ctx context.Context, docker string) (string, bool) {
	var host, rd string
	for _, kv := range er.env {
		if v, ok := strings.CutPrefix(kv, "DOCKER_HOST="); ok && strings.HasPrefix(v, "unix://") {
			host = v
		}
		if v, ok := strings.CutPrefix(kv, "XDG_RUNTIME_DIR="); ok {
			rd = v
		}
	}
	if host == "" {
		host = "unix://" + rd + "/docker.sock"
	}
	if rd == "" && !strings.HasPrefix(host, "unix:///") {
		return host, false
	}
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	o := er.command(qctx, nil, docker, "-H", host, "info", "--format", "{{json .SecurityOptions}}")
	return host, o.err == nil && o.exit == 0 && strings.Contains(o.stdout, "name=rootless")
}

// startedDaemon is the `rootless-doctor daemon` of one run.
type startedDaemon struct {
	cmd  *exec.Cmd
	out  *capped
	done chan error
}

// with appends what the daemon printed to a failed command's output: dockerd's own log says
// why a container did not start more often than the CLI does.
func (d *startedDaemon) with(o output) output {
	if d != nil && (o.err != nil || o.exit != 0) {
		o.stderr = strings.TrimSpace(o.stderr + "\n" + lastLines(d.out.String(), 8))
	}
	return o
}

// startDaemon starts the daemon as the account and waits until `docker info` answers on host,
// the daemon exits, or ctx ends. On failure it returns nil and what the daemon printed.
func (er *engineRun) startDaemon(ctx context.Context, docker, host string) (*startedDaemon, output) {
	cmd := exec.Command(er.self, "daemon", "--static", "--force", "--", "dockerd")
	cmd.Env, cmd.Dir = er.env, "/"
	out := &capped{max: maxEngineOutput}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = er.sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, output{exit: -1, err: fmt.Errorf("starting rootless-doctor daemon: %w", err)}
	}
	d := &startedDaemon{cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { d.done <- cmd.Wait() }()
	for {
		select {
		case err := <-d.done:
			reapGroup(cmd.Process.Pid)
			o := output{stderr: out.String(), exit: cmd.ProcessState.ExitCode()}
			if o.exit == 0 {
				o.err = fmt.Errorf("rootless-doctor daemon exited before dockerd answered: %v", err)
			}
			return nil, o
		case <-ctx.Done():
			d.stop()
			return nil, output{stderr: out.String(), exit: -1, err: fmt.Errorf("dockerd did not answer on %s: %w", host, ctx.Err())}
		case <-time.After(500 * time.Millisecond):
		}
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		o := er.command(qctx, nil, docker, "-H", host, "info", "--format", "{{.ID}}")
		cancel()
		if o.err == nil && o.exit == 0 {
			return d, output{}
		}
	}
}

// stop ends the daemon as `rootless-doctor daemon` documents (SIGTERM goes to the engine),
// then kills what is left of its process group.
func (d *startedDaemon) stop() {
	if d == nil {
		return
	}
	pid := d.cmd.Process.Pid
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-d.done
	}
	reapGroup(pid)
}
