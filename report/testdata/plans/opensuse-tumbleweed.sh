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

# 1. Install the package slirp4netns
#    fixes: net.driver
#    why: no network driver (net.driver)
if ! rpm -q --quiet slirp4netns; then
	zypper --non-interactive install --no-recommends slirp4netns </dev/null
fi

# 2. Give alice 65536 subordinate uids and gids (100000-165535)
#    fixes: idmap.subuid
#    why: no /etc/subuid at all (idmap.subuid)
#    why: the range is free in /etc/subuid and /etc/subgid (every line, malformed ones too), holds no real uid or gid, and lies inside SUB_UID_MIN..SUB_UID_MAX of /etc/login.defs
#    why: afterwards restart rootless engines so they map the new range (podman system migrate; systemctl --user restart docker)
[ -e /etc/subuid ] || { : >/etc/subuid; chmod 0644 /etc/subuid; }
[ -e /etc/subgid ] || { : >/etc/subgid; chmod 0644 /etc/subgid; }
awk -F: -v lo=100000 -v hi=165535 -v u=alice -v id=1000 -v ids=/etc/passwd 'function num(s,  n, i, b, neg) { sub(/^[ \t\n\v\f\r]+/, "", s); neg = 0; if (s ~ /^[-+]/) { neg = substr(s, 1, 1) == "-"; s = substr(s, 2) } if (s ~ /^0[xX][0-9a-fA-F]+$/) { b = 16; s = substr(s, 3) } else if (s ~ /^0[0-7]*$/) b = 8; else if (s ~ /^[1-9][0-9]*$/) b = 10; else return -1; n = 0; for (i = 1; i <= length(s); i++) { n = n * b + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1; if (n > 18446744073709551615) return -1 } if (neg && n > 0) return -2; return n } FILENAME == ids { if ($3 + 0 >= lo && $3 + 0 <= hi) bad = bad " " $1; next } { sub(/\r$/, "") } $1 != u && $1 != id && $1 !~ /^[-+]/ && NF >= 3 && $1 != "" && $2 != "" && $3 != "" && length($0) < 1024 { s = num($2); c = num($3); if (s >= 0 && s <= hi && (c == -2 || c > 0 && s + c - 1 >= lo)) bad = bad " " $1 } END { if (bad != "") { print "rootless-doctor: " lo "-" hi " is not free on this machine (used by" bad "): run rootless-doctor fix here"; exit 1 } }' /etc/subuid /etc/passwd
awk -F: -v lo=100000 -v hi=165535 -v u=alice -v id=1000 -v ids=/etc/group 'function num(s,  n, i, b, neg) { sub(/^[ \t\n\v\f\r]+/, "", s); neg = 0; if (s ~ /^[-+]/) { neg = substr(s, 1, 1) == "-"; s = substr(s, 2) } if (s ~ /^0[xX][0-9a-fA-F]+$/) { b = 16; s = substr(s, 3) } else if (s ~ /^0[0-7]*$/) b = 8; else if (s ~ /^[1-9][0-9]*$/) b = 10; else return -1; n = 0; for (i = 1; i <= length(s); i++) { n = n * b + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1; if (n > 18446744073709551615) return -1 } if (neg && n > 0) return -2; return n } FILENAME == ids { if ($3 + 0 >= lo && $3 + 0 <= hi) bad = bad " " $1; next } { sub(/\r$/, "") } $1 != u && $1 != id && $1 !~ /^[-+]/ && NF >= 3 && $1 != "" && $2 != "" && $3 != "" && length($0) < 1024 { s = num($2); c = num($3); if (s >= 0 && s <= hi && (c == -2 || c > 0 && s + c - 1 >= lo)) bad = bad " " $1 } END { if (bad != "") { print "rootless-doctor: " lo "-" hi " is not free on this machine (used by" bad "): run rootless-doctor fix here"; exit 1 } }' /etc/subgid /etc/group
if ! grep -qxF alice:100000:65536 /etc/subuid || ! grep -qxF alice:100000:65536 /etc/subgid; then usermod --add-subuids 100000-165535 --add-subgids 100000-165535 alice; fi

# 3. Delegate the cgroup controllers cpu cpuset io memory pids to user@.service
#    fixes: cgroup.delegation
#    why: nothing is delegated (cgroup.delegation)
put /etc/systemd/system/user@.service.d/60-rootless-doctor-delegate.conf 0644 <<'ROOTLESS_DOCTOR_FILE'
# Written by `rootless-doctor fix`: delegate the cgroup v2 controllers rootless
# containers need to every user's systemd manager (systemd.resource-control(5)).
[Service]
Delegate=cpu cpuset io memory pids
ROOTLESS_DOCTOR_FILE
if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

# 4. Keep the user manager of alice running after logout (linger)
#    fixes: session.linger
#    why: the daemon stops at logout (session.linger)
[ -e /var/lib/systemd/linger/alice ] || loginctl enable-linger alice

# 5. By hand: Log out and log in again (or reboot), so that a new session picks up the changes
#    fixes: cgroup.delegation
#    why: systemd starts user@UID.service with the new settings only when the user's last session has ended
EOF

# Then, by hand:
#   5. Log out and log in again (or reboot), so that a new session picks up the changes
