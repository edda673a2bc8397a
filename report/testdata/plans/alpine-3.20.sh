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

# 1. Install the package shadow-uidmap
#    fixes: idmap.newuidmap
#    why: newuidmap is not installed (idmap.newuidmap)
if ! apk info -e shadow-uidmap >/dev/null 2>&1; then
	apk add --no-cache shadow-uidmap </dev/null
fi

# 2. By hand: Install systemd-container from upstream: Alpine Linux v3.20 has no package that provides it
#    fixes: session.systemd
#    why: machinectl gives a real session (session.systemd)

# 3. Give alice 65536 subordinate uids and gids (170000-235535)
#    fixes: idmap.subgid, idmap.subuid
#    why: alice has no subordinate gids (idmap.subgid)
#    why: alice's range overlaps bob's (idmap.subuid)
#    why: the range is free in /etc/subuid and /etc/subgid (every line, malformed ones too), holds no real uid or gid, and lies inside SUB_UID_MIN..SUB_UID_MAX of /etc/login.defs
#    why: the lines are appended (guarded by grep): usermod --add-subuids is not available here or the account is not in /etc/passwd
#    why: afterwards restart rootless engines so they map the new range (podman system migrate; systemctl --user restart docker)
[ -e /etc/subuid ] || { : >/etc/subuid; chmod 0644 /etc/subuid; }
[ -e /etc/subgid ] || { : >/etc/subgid; chmod 0644 /etc/subgid; }
awk -F: -v lo=170000 -v hi=235535 -v u=alice -v id=1000 -v ids=/etc/passwd 'function num(s,  n, i, b, neg) { sub(/^[ \t\n\v\f\r]+/, "", s); neg = 0; if (s ~ /^[-+]/) { neg = substr(s, 1, 1) == "-"; s = substr(s, 2) } if (s ~ /^0[xX][0-9a-fA-F]+$/) { b = 16; s = substr(s, 3) } else if (s ~ /^0[0-7]*$/) b = 8; else if (s ~ /^[1-9][0-9]*$/) b = 10; else return -1; n = 0; for (i = 1; i <= length(s); i++) { n = n * b + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1; if (n > 18446744073709551615) return -1 } if (neg && n > 0) return -2; return n } FILENAME == ids { if ($3 + 0 >= lo && $3 + 0 <= hi) bad = bad " " $1; next } { sub(/\r$/, "") } $1 != u && $1 != id && $1 !~ /^[-+]/ && NF >= 3 && $1 != "" && $2 != "" && $3 != "" && length($0) < 1024 { s = num($2); c = num($3); if (s >= 0 && s <= hi && (c == -2 || c > 0 && s + c - 1 >= lo)) bad = bad " " $1 } END { if (bad != "") { print "rootless-doctor: " lo "-" hi " is not free on this machine (used by" bad "): run rootless-doctor fix here"; exit 1 } }' /etc/subuid /etc/passwd
awk -F: -v lo=170000 -v hi=235535 -v u=alice -v id=1000 -v ids=/etc/group 'function num(s,  n, i, b, neg) { sub(/^[ \t\n\v\f\r]+/, "", s); neg = 0; if (s ~ /^[-+]/) { neg = substr(s, 1, 1) == "-"; s = substr(s, 2) } if (s ~ /^0[xX][0-9a-fA-F]+$/) { b = 16; s = substr(s, 3) } else if (s ~ /^0[0-7]*$/) b = 8; else if (s ~ /^[1-9][0-9]*$/) b = 10; else return -1; n = 0; for (i = 1; i <= length(s); i++) { n = n * b + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1; if (n > 18446744073709551615) return -1 } if (neg && n > 0) return -2; return n } FILENAME == ids { if ($3 + 0 >= lo && $3 + 0 <= hi) bad = bad " " $1; next } { sub(/\r$/, "") } $1 != u && $1 != id && $1 !~ /^[-+]/ && NF >= 3 && $1 != "" && $2 != "" && $3 != "" && length($0) < 1024 { s = num($2); c = num($3); if (s >= 0 && s <= hi && (c == -2 || c > 0 && s + c - 1 >= lo)) bad = bad " " $1 } END { if (bad != "") { print "rootless-doctor: " lo "-" hi " is not free on this machine (used by" bad "): run rootless-doctor fix here"; exit 1 } }' /etc/subgid /etc/group
[ -z "$(tail -c 1 /etc/subuid)" ] || echo >>/etc/subuid
if grep -qxF alice:160000:10000 /etc/subuid; then sed -i '/^alice:160000:10000$/d' /etc/subuid; fi
grep -qxF alice:165536:4464 /etc/subuid || printf '%s\n' alice:165536:4464 >>/etc/subuid
grep -qxF alice:170000:65536 /etc/subuid || printf '%s\n' alice:170000:65536 >>/etc/subuid
[ -z "$(tail -c 1 /etc/subgid)" ] || echo >>/etc/subgid
grep -qxF alice:170000:65536 /etc/subgid || printf '%s\n' alice:170000:65536 >>/etc/subgid

# 4. Make /dev/net/tun mode 0666 now and at boot
#    fixes: net.tun
#    why: /dev/net/tun is mode 0600 (net.tun)
#    why: 0666 is the kernel's own default for /dev/net/tun; opening it grants nothing by itself (creating an interface needs CAP_NET_ADMIN in the network namespace)
put /etc/udev/rules.d/60-rootless-doctor-tun.rules 0644 <<'ROOTLESS_DOCTOR_FILE'
# Written by `rootless-doctor fix`: rootless containers open /dev/net/tun as the user.
KERNEL=="tun", MODE="0666"
ROOTLESS_DOCTOR_FILE
[ -e /dev/net/tun ] || modprobe tun
chmod 0666 /dev/net/tun
EOF

# Then, by hand:
#   2. Install systemd-container from upstream: Alpine Linux v3.20 has no package that provides it
