#!/bin/sh
# engine.sh docker|podman [limits [plain]] [cpuset] [port] [restart] [api] — does the real rootless engine work for the
# account running this script, and does it apply limits?
#
# Copied into the guest at run time (/usr/local/lib/vmlab/engine.sh) and run as the account,
# through a real login (ssh) or a su/sudo shell. Prints ENGINE.KEY=VALUE lines on stdout, which
# the harness parses (test/vm/engine.go); all other output goes to stderr (the transcript).
#
# No registry is involved: the container image is busybox-static and a file, written here as a
# `docker save` archive (for `docker load`) and as a root directory (for `podman run --rootfs`).
set -u

engine=${1:?engine}
shift
wants=" $* "
want() { case $wants in *" $1 "*) return 0 ;; esac; return 1; }
kv() { printf '%s.%s=%s\n' "$engine" "$1" "$(printf '%s' "$2" | tr '\n' ' ' | sed 's/ *$//')"; }

lab=$HOME/vmlab

# ensure_image writes $lab/rootfs and $lab/image.tar (image lab/busybox:latest) once.
ensure_image() {
	[ -f "$lab/image.tar" ] && [ -d "$lab/rootfs/bin" ] && return 0
	rm -rf "$lab" && mkdir -p "$lab/rootfs/bin" "$lab/rootfs/www" "$lab/rootfs/tmp" "$lab/rootfs/etc" \
		"$lab/rootfs/proc" "$lab/rootfs/sys" "$lab/rootfs/dev" || return 1
	cp /bin/busybox "$lab/rootfs/bin/busybox" && ln -s busybox "$lab/rootfs/bin/sh" || return 1
	echo hello-from-lab >"$lab/rootfs/www/index.html"
	work=$(mktemp -d) || return 1
	tar --owner=0 --group=0 --numeric-owner -C "$lab/rootfs" -cf "$work/layer.tar" . || return 1
	diff=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
	mkdir "$work/$diff" && mv "$work/layer.tar" "$work/$diff/layer.tar"
	printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/busybox","sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$diff" >"$work/config.json"
	cfg=$(sha256sum "$work/config.json" | cut -d' ' -f1)
	mv "$work/config.json" "$work/$cfg.json"
	printf '[{"Config":"%s.json","RepoTags":["lab/busybox:latest"],"Layers":["%s/layer.tar"]}]' "$cfg" "$diff" >"$work/manifest.json"
	tar -C "$work" -cf "$lab/image.tar" manifest.json "$cfg.json" "$diff" || return 1
	rm -rf "$work"
}

# Every container chowns a file to 1000:1000, as images with files of other owners need (and
# as a single-id user namespace — Podman without subordinate ids — cannot do).
# shellcheck disable=SC2016 # expanded inside the container
chown_payload='
: >/tmp/idmap && chown 1000:1000 /tmp/idmap && echo chown=ok || echo chown=failed'

# The payload of the limits run: the limits the kernel holds for the container (cgroup v2 file,
# else the v1 one), then a real test of the pids limit: a child shell starts up to 80 sleepers
# and prints how many forks worked (it exits at the first failed fork; the payload still exits
# 0, so a refused fork is not mistaken for a container that did not run).
# shellcheck disable=SC2016 # expanded inside the container
payload=$chown_payload'
m=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || echo none)
p=$(cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || echo none)
echo "memory=$m"; echo "pids=$p"
/bin/busybox sh -c '"'"'i=0; while [ $i -lt 80 ]; do /bin/busybox sleep 30 & i=$((i+1)); echo "forks=$i"; done'"'"' 2>/dev/null
echo done'

# shellcheck disable=SC2016
cpuset_payload='cat /sys/fs/cgroup/cpuset.cpus.effective 2>/dev/null || echo none'

# report_limits turns the payload's output into key=value lines (the last forks= counts).
report_limits() {
	kv chown "$(printf '%s\n' "$1" | sed -n 's/^chown=//p' | tail -n 1)"
	kv memory "$(printf '%s\n' "$1" | sed -n 's/^memory=//p' | tail -n 1)"
	kv pids "$(printf '%s\n' "$1" | sed -n 's/^pids=//p' | tail -n 1)"
	kv forks "$(printf '%s\n' "$1" | sed -n 's/^forks=//p' | tail -n 1)"
}

# fetch retries a GET of the published port for a while (the server starts asynchronously),
# with bash's /dev/tcp: no HTTP client is installed in the guest.
fetch() {
	end=$(($(date +%s) + 20))
	while [ "$(date +%s)" -lt $end ]; do
		# shellcheck disable=SC2016
		if bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "GET / HTTP/1.0\r\n\r\n" >&3 && timeout 5 cat <&3' _ "$1" 2>/dev/null | grep -q hello-from-lab; then
			return 0
		fi
		sleep 1
	done
	return 1
}

# run_docker uses Docker's own user unit (docker.service): on first use it installs it with
# dockerd-rootless-setuptool.sh, later it starts it, or restarts it when asked to (so that the
# engine meets the state the scenario staged). With "api" it only uses whatever dockerd answers
# on $XDG_RUNTIME_DIR/docker.sock (rootless-doctor's own unit).
run_docker() {
	if [ -n "${XDG_RUNTIME_DIR:-}" ]; then
		export DOCKER_HOST="unix://$XDG_RUNTIME_DIR/docker.sock"
	fi
	if want api; then
		:
	elif systemctl --user cat docker.service >/dev/null 2>&1; then
		if want restart; then
			# A unit that kept failing in the staged state has hit its start limit
			# (StartLimitBurst=3): `systemctl --user restart` then refuses until it is reset.
			systemctl --user reset-failed docker.service 2>/dev/null
			systemctl --user restart docker.service >&2
		else
			systemctl --user start docker.service >&2
		fi
		kv start $?
	else
		dockerd-rootless-setuptool.sh install >&2
		kv install $?
	fi
	# Wait for the API, unless the unit serving it is gone or has failed for good.
	unit=docker.service
	if want api; then
		unit=rootless-doctor.service
	fi
	# Up to 150 s: under TCG on a busy machine dockerd took over 45 s to answer (debian12,
	# no-dbus-user-session, after the fix); a unit that failed ends the wait at once.
	up=no
	end=$(($(date +%s) + 150))
	while [ "$(date +%s)" -lt $end ]; do
		if timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
			up=yes
			break
		fi
		case $(systemctl --user is-active "$unit" 2>/dev/null) in
		active | activating | reloading) ;;
		*) break ;;
		esac
		sleep 1
	done
	kv up $up
	if [ $up != yes ]; then
		journalctl --user -u "$unit" -n 40 --no-pager >&2
		return 0
	fi
	# One `docker info` (each CLI call costs seconds under TCG).
	info=$(docker info --format '{{.Driver}}|{{.CgroupDriver}} v{{.CgroupVersion}}|{{join .Warnings ";"}}' 2>/dev/null)
	kv driver "${info%%|*}"
	rest=${info#*|}
	kv cgroup "${rest%%|*}"
	kv warnings "${rest#*|}"
	docker image inspect lab/busybox >/dev/null 2>&1 || docker load -i "$lab/image.tar" >&2
	limits_code=0
	if want limits; then
		out=$(docker run --rm --memory 64m --pids-limit 50 lab/busybox /bin/busybox sh -c "$payload" 2>"$lab/err")
		limits_code=$?
		kv run_warnings "$(grep -i warn "$lab/err")"
		cat "$lab/err" >&2
	fi
	if want limits && ! { [ $limits_code -ne 0 ] && want plain; }; then
		kv run $limits_code
		report_limits "$out"
	else
		# With "plain", a refused limits run is reported as such (limits_run) and a container
		# without limits says whether the engine runs at all.
		if want limits; then kv limits_run $limits_code; fi
		out=$(docker run --rm lab/busybox /bin/busybox sh -c "$chown_payload")
		kv run $?
		kv chown "$(printf '%s\n' "$out" | sed -n 's/^chown=//p')"
	fi
	if want cpuset; then
		out=$(docker run --rm --cpuset-cpus 1 lab/busybox /bin/busybox sh -c "$cpuset_payload" 2>"$lab/err")
		kv cpuset_run $?
		kv cpuset_warnings "$(grep -i warn "$lab/err")"
		cat "$lab/err" >&2
		kv cpuset "$out"
	fi
	if want port; then
		docker rm -f vmlab-web >/dev/null 2>&1
		docker run -d --name vmlab-web -p 127.0.0.1:18080:8080 lab/busybox /bin/busybox httpd -f -p 8080 -h /www >&2
		if fetch 18080; then kv port yes; else kv port no; fi
		docker rm -f vmlab-web >/dev/null 2>&1
	fi
}

run_podman() {
	# Podman keeps the user namespace of its pause process: a scenario that changed the
	# subordinate ids or the userns sysctl needs a new one, as `podman system migrate` makes
	# (with "restart", like dockerd's). Skipped otherwise: it costs seconds under TCG.
	if want restart; then
		podman system migrate >&2 2>&1
	fi
	info=$(podman info --format '{{.Host.CgroupManager}} {{.Host.CgroupsVersion}}|{{.Host.NetworkBackend}}' 2>/dev/null)
	kv cgroup "${info%%|*}"
	kv network "${info#*|}"
	limits_code=0
	if want limits; then
		out=$(podman run --rm --memory 64m --pids-limit 50 --rootfs "$lab/rootfs" /bin/busybox sh -c "$payload" 2>"$lab/err")
		limits_code=$?
		kv run_warnings "$(grep -i warn "$lab/err")"
		cat "$lab/err" >&2
	fi
	if want limits && ! { [ $limits_code -ne 0 ] && want plain; }; then
		kv run $limits_code
		report_limits "$out"
	else
		if want limits; then kv limits_run $limits_code; fi
		out=$(podman run --rm --rootfs "$lab/rootfs" /bin/busybox sh -c "$chown_payload")
		kv run $?
		kv chown "$(printf '%s\n' "$out" | sed -n 's/^chown=//p')"
	fi
	if want cpuset; then
		out=$(podman run --rm --cpuset-cpus 1 --rootfs "$lab/rootfs" /bin/busybox sh -c "$cpuset_payload" 2>"$lab/err")
		kv cpuset_run $?
		cat "$lab/err" >&2
		kv cpuset "$out"
	fi
	if want port; then
		podman rm -f vmlab-web >/dev/null 2>&1
		podman run -d --name vmlab-web -p 127.0.0.1:18081:8080 --rootfs "$lab/rootfs" /bin/busybox httpd -f -p 8080 -h /www >&2
		if fetch 18081; then kv port yes; else kv port no; fi
		podman rm -f vmlab-web >/dev/null 2>&1
	fi
}

if ! ensure_image; then
	kv image failed
	exit 0
fi
case $engine in
docker) run_docker ;;
podman) run_podman ;;
*)
	echo "unknown engine $engine" >&2
	exit 2
	;;
esac
