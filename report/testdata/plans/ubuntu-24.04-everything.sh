#!/bin/sh
# Fix plan from rootless-doctor. Review it, then run it: every step is idempotent,
# so running it again changes nothing. Steps marked "By hand" are comments only.
sudo sh -eux <<'EOF'
# put FILE MODE: write standard input to FILE unless FILE holds exactly that already;
# a file that is replaced is kept as .NAME.rootless-doctor-backup next to it.
put() {
	new=$(cat; echo .)
	old=$(cat -- "$1" 2>/dev/null || :; echo .)
	if [ "$new" != "$old" ]; then
		mkdir -p -- "${1%/*}"
		if [ -e "$1" ]; then cp -p -- "$1" "${1%/*}/.${1##*/}.rootless-doctor-backup"; fi
		printf '%s' "${new%.}" >"${1%/*}/.${1##*/}.rootless-doctor-new"
		chmod "$2" "${1%/*}/.${1##*/}.rootless-doctor-new"
		mv -f -- "${1%/*}/.${1##*/}.rootless-doctor-new" "$1"
	fi
	chmod "$2" "$1"
}

# 1. Install the packages dbus-user-session, slirp4netns and uidmap
#    fixes: idmap.newuidmap, net.driver, session.dbus
#    why: alice has no D-Bus session bus (session.dbus)
#    why: newuidmap and newgidmap are not installed (idmap.newuidmap)
#    why: no network driver for rootlesskit (net.driver)
if ! (for p in dbus-user-session slirp4netns uidmap; do dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null | grep -qx installed || exit 1; done); then
	apt-get update </dev/null
	env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends dbus-user-session slirp4netns uidmap </dev/null
fi

# 2. Remove the carriage returns (CRLF line ends) from /etc/subgid
#    fixes: idmap.subgid
#    why: /etc/subgid has CRLF line ends (idmap.subgid)
#    why: shadow reads the CR at the end of a line as part of the count and skips the line, so getsubids and newuidmap do not see its range
if grep -q "$(printf '\r')"'$' /etc/subgid; then sed -i "s/$(printf '\r')*\$//" /etc/subgid; fi

# 3. Give alice 65536 subordinate uids and gids (165536-231071)
#    fixes: idmap.subgid, idmap.subuid
#    why: alice has no subordinate gid range (idmap.subgid)
#    why: alice has no subordinate uid range (idmap.subuid)
#    why: the range is free in /etc/subuid and /etc/subgid (every line, malformed ones too), holds no real uid or gid, and lies inside SUB_UID_MIN..SUB_UID_MAX of /etc/login.defs
#    why: afterwards restart rootless engines so they map the new range (podman system migrate; systemctl --user restart docker)
[ -e /etc/subuid ] || { : >/etc/subuid; chmod 0644 /etc/subuid; }
[ -e /etc/subgid ] || { : >/etc/subgid; chmod 0644 /etc/subgid; }
awk -F: -v lo=165536 -v hi=231071 -v u=alice -v id=1000 -v ids=/etc/passwd 'function num(s,  n, i, b, neg) { sub(/^[ \t\n\v\f\r]+/, "", s); neg = 0; if (s ~ /^[-+]/) { neg = substr(s, 1, 1) == "-"; s = substr(s, 2) } if (s ~ /^0[xX][0-9a-fA-F]+$/) { b = 16; s = substr(s, 3) } else if (s ~ /^0[0-7]*$/) b = 8; else if (s ~ /^[1-9][0-9]*$/) b = 10; else return -1; n = 0; for (i = 1; i <= length(s); i++) { n = n * b + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1; if (n > 18446744073709551615) return -1 } if (neg && n > 0) return -2; return n } FILENAME == ids { if ($3 + 0 >= lo && $3 + 0 <= hi) bad = bad " " $1; next } { sub(/\r$/, "") } $1 != u && $1 != id && $1 !~ /^[-+]/ && NF >= 3 && $1 != "" && $2 != "" && $3 != "" && length($0) < 1024 { s = num($2); c = num($3); if (s >= 0 && s <= hi && (c == -2 || c > 0 && s + c - 1 >= lo)) bad = bad " " $1 } END { if (bad != "") { print "rootless-doctor: " lo "-" hi " is not free on this machine (used by" bad "): run rootless-doctor fix here"; exit 1 } }' /etc/subuid /etc/passwd
awk -F: -v lo=165536 -v hi=231071 -v u=alice -v id=1000 -v ids=/etc/group 'function num(s,  n, i, b, neg) { sub(/^[ \t\n\v\f\r]+/, "", s); neg = 0; if (s ~ /^[-+]/) { neg = substr(s, 1, 1) == "-"; s = substr(s, 2) } if (s ~ /^0[xX][0-9a-fA-F]+$/) { b = 16; s = substr(s, 3) } else if (s ~ /^0[0-7]*$/) b = 8; else if (s ~ /^[1-9][0-9]*$/) b = 10; else return -1; n = 0; for (i = 1; i <= length(s); i++) { n = n * b + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1; if (n > 18446744073709551615) return -1 } if (neg && n > 0) return -2; return n } FILENAME == ids { if ($3 + 0 >= lo && $3 + 0 <= hi) bad = bad " " $1; next } { sub(/\r$/, "") } $1 != u && $1 != id && $1 !~ /^[-+]/ && NF >= 3 && $1 != "" && $2 != "" && $3 != "" && length($0) < 1024 { s = num($2); c = num($3); if (s >= 0 && s <= hi && (c == -2 || c > 0 && s + c - 1 >= lo)) bad = bad " " $1 } END { if (bad != "") { print "rootless-doctor: " lo "-" hi " is not free on this machine (used by" bad "): run rootless-doctor fix here"; exit 1 } }' /etc/subgid /etc/group
if ! grep -qxF alice:165536:65536 /etc/subuid || ! grep -qxF alice:165536:65536 /etc/subgid; then usermod --add-subuids 165536-231071 --add-subgids 165536-231071 alice; fi

# 4. Let /opt/docker/rootlesskit create user namespaces (AppArmor profile rootless-doctor.opt.docker.rootlesskit)
#    fixes: userns.apparmor
#    why: AppArmor blocks user namespaces for rootlesskit (userns.apparmor)
#    why: /home/alice/bin/rootlesskit resolves to /opt/docker/rootlesskit, the path AppArmor sees
#    why: alternative, not used: sysctl kernel.apparmor_restrict_unprivileged_userns=0 lifts the restriction for every program on the host, which weakens its security
put /etc/apparmor.d/rootless-doctor.opt.docker.rootlesskit 0644 <<'ROOTLESS_DOCTOR_FILE'
# Written by `rootless-doctor fix`: lets /opt/docker/rootlesskit create user namespaces while
# kernel.apparmor_restrict_unprivileged_userns=1 (the default since Ubuntu 24.04).
# https://rootlesscontaine.rs/getting-started/common/apparmor/
abi <abi/4.0>,
include <tunables/global>

profile rootless-doctor.opt.docker.rootlesskit /opt/docker/rootlesskit flags=(unconfined) {
  userns,

  # Site-specific additions and overrides. See local/README for details.
  include if exists <local/rootless-doctor.opt.docker.rootlesskit>
}
ROOTLESS_DOCTOR_FILE
apparmor_parser -r /etc/apparmor.d/rootless-doctor.opt.docker.rootlesskit

# 5. Let /usr/local/bin/rootless-doctor create user namespaces (AppArmor profile rootless-doctor.usr.local.bin.rootless-doctor)
#    fixes: userns.apparmor
#    why: rootless-doctor embeds rootlesskit (userns.apparmor)
#    why: alternative, not used: sysctl kernel.apparmor_restrict_unprivileged_userns=0 lifts the restriction for every program on the host, which weakens its security
put /etc/apparmor.d/rootless-doctor.usr.local.bin.rootless-doctor 0644 <<'ROOTLESS_DOCTOR_FILE'
# Written by `rootless-doctor fix`: lets /usr/local/bin/rootless-doctor create user namespaces while
# kernel.apparmor_restrict_unprivileged_userns=1 (the default since Ubuntu 24.04).
# https://rootlesscontaine.rs/getting-started/common/apparmor/
abi <abi/4.0>,
include <tunables/global>

profile rootless-doctor.usr.local.bin.rootless-doctor /usr/local/bin/rootless-doctor flags=(unconfined) {
  userns,

  # Site-specific additions and overrides. See local/README for details.
  include if exists <local/rootless-doctor.usr.local.bin.rootless-doctor>
}
ROOTLESS_DOCTOR_FILE
apparmor_parser -r /etc/apparmor.d/rootless-doctor.usr.local.bin.rootless-doctor

# 6. Delegate the cgroup controllers cpu cpuset io memory pids to user@.service
#    fixes: cgroup.delegation
#    why: cpu, cpuset and io are not delegated (cgroup.delegation)
put /etc/systemd/system/user@.service.d/60-rootless-doctor-delegate.conf 0644 <<'ROOTLESS_DOCTOR_FILE'
# Written by `rootless-doctor fix`: delegate the cgroup v2 controllers rootless
# containers need to every user's systemd manager (systemd.resource-control(5)).
[Service]
Delegate=cpu cpuset io memory pids
ROOTLESS_DOCTOR_FILE
if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

# 7. Make /dev/net/tun mode 0666 now and at boot
#    fixes: net.tun
#    why: /dev/net/tun is mode 0600 (net.tun)
#    why: 0666 is the kernel's own default for /dev/net/tun; opening it grants nothing by itself (creating an interface needs CAP_NET_ADMIN in the network namespace)
put /etc/udev/rules.d/60-rootless-doctor-tun.rules 0644 <<'ROOTLESS_DOCTOR_FILE'
# Written by `rootless-doctor fix`: rootless containers open /dev/net/tun as the user.
KERNEL=="tun", MODE="0666"
ROOTLESS_DOCTOR_FILE
[ -e /dev/net/tun ] || modprobe tun
chmod 0666 /dev/net/tun

# 8. Keep the user manager of alice running after logout (linger)
#    fixes: session.linger
#    why: the daemon stops when alice logs out (session.linger)
[ -e /var/lib/systemd/linger/alice ] || loginctl enable-linger alice

# 9. By hand: move ~/.local/share/docker off NFS (set data-root in ~/.config/docker/daemon.json)
#    fixes: storage.data-root

# 10. By hand: Log out and log in again (or reboot), so that a new session picks up the changes
#    fixes: cgroup.delegation, session.dbus
#    why: delegation takes effect in a new session (cgroup.delegation)
#    why: systemd starts user@UID.service with the new settings only when the user's last session has ended
EOF

# Then, by hand:
#   9. move ~/.local/share/docker off NFS (set data-root in ~/.config/docker/daemon.json)
#   10. Log out and log in again (or reboot), so that a new session picks up the changes

# Optional steps, not applied by default. To apply them, remove the leading "# "
# of the lines below and run them as well.
# sudo sh -eux <<'EOF'
# # put FILE MODE: write standard input to FILE unless FILE holds exactly that already;
# # a file that is replaced is kept as .NAME.rootless-doctor-backup next to it.
# put() {
# 	new=$(cat; echo .)
# 	old=$(cat -- "$1" 2>/dev/null || :; echo .)
# 	if [ "$new" != "$old" ]; then
# 		mkdir -p -- "${1%/*}"
# 		if [ -e "$1" ]; then cp -p -- "$1" "${1%/*}/.${1##*/}.rootless-doctor-backup"; fi
# 		printf '%s' "${new%.}" >"${1%/*}/.${1##*/}.rootless-doctor-new"
# 		chmod "$2" "${1%/*}/.${1##*/}.rootless-doctor-new"
# 		mv -f -- "${1%/*}/.${1##*/}.rootless-doctor-new" "$1"
# 	fi
# 	chmod "$2" "$1"
# }
#
# # O1. Set the sysctls net.ipv4.ip_unprivileged_port_start and net.ipv4.ping_group_range now and at boot
# #    fixes: net.ping, net.privileged-ports
# #    why: ports below 1024 cannot be published (net.privileged-ports)
# #    why: ping does not work in containers (net.ping)
# put /etc/sysctl.d/61-rootless-doctor-optional.conf 0644 <<'ROOTLESS_DOCTOR_FILE'
# # Kernel settings for rootless containers (sysctl.d(5)). Written by
# # `rootless-doctor fix`, which keeps what an earlier run put here.
# net.ipv4.ip_unprivileged_port_start = 0
# net.ipv4.ping_group_range = 0 2147483647
# ROOTLESS_DOCTOR_FILE
# sysctl -p /etc/sysctl.d/61-rootless-doctor-optional.conf
# EOF
