#!/bin/sh
# Fix plan from rootless-doctor. Review it, then run it: every step is idempotent,
# so running it again changes nothing. Steps marked "By hand" are comments only.
sudo sh -eux <<'EOF'
# 1. By hand: Install what provides newuidmap
#    fixes: idmap.newuidmap
#    why: newuidmap is not installed (idmap.newuidmap)
#    why: rootless-doctor does not know the package manager of Some Linux

# 2. Give ldap_user 65536 subordinate uids and gids (100000-165535)
#    fixes: idmap.subuid
#    why: ldap_user has no subordinate ids (idmap.subuid)
#    why: the range is free in /etc/subuid and /etc/subgid (every line, malformed ones too), holds no real uid or gid, and lies inside SUB_UID_MIN..SUB_UID_MAX of /etc/login.defs
#    why: the lines are appended (guarded by grep): usermod --add-subuids is not available here or the account is not in /etc/passwd
#    why: afterwards restart rootless engines so they map the new range (podman system migrate; systemctl --user restart docker)
[ -e /etc/subuid ] || { : >/etc/subuid; chmod 0644 /etc/subuid; }
[ -e /etc/subgid ] || { : >/etc/subgid; chmod 0644 /etc/subgid; }
awk -F: -v lo=100000 -v hi=165535 -v u=ldap_user -v id= -v ids=/etc/passwd 'function num(s,  n, i, b, neg) { sub(/^[ \t\n\v\f\r]+/, "", s); neg = 0; if (s ~ /^[-+]/) { neg = substr(s, 1, 1) == "-"; s = substr(s, 2) } if (s ~ /^0[xX][0-9a-fA-F]+$/) { b = 16; s = substr(s, 3) } else if (s ~ /^0[0-7]*$/) b = 8; else if (s ~ /^[1-9][0-9]*$/) b = 10; else return -1; n = 0; for (i = 1; i <= length(s); i++) { n = n * b + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1; if (n > 18446744073709551615) return -1 } if (neg && n > 0) return -2; return n } FILENAME == ids { if ($3 + 0 >= lo && $3 + 0 <= hi) bad = bad " " $1; next } { sub(/\r$/, "") } $1 != u && $1 != id && $1 !~ /^[-+]/ && NF >= 3 && $1 != "" && $2 != "" && $3 != "" && length($0) < 1024 { s = num($2); c = num($3); if (s >= 0 && s <= hi && (c == -2 || c > 0 && s + c - 1 >= lo)) bad = bad " " $1 } END { if (bad != "") { print "rootless-doctor: " lo "-" hi " is not free on this machine (used by" bad "): run rootless-doctor fix here"; exit 1 } }' /etc/subuid /etc/passwd
awk -F: -v lo=100000 -v hi=165535 -v u=ldap_user -v id= -v ids=/etc/group 'function num(s,  n, i, b, neg) { sub(/^[ \t\n\v\f\r]+/, "", s); neg = 0; if (s ~ /^[-+]/) { neg = substr(s, 1, 1) == "-"; s = substr(s, 2) } if (s ~ /^0[xX][0-9a-fA-F]+$/) { b = 16; s = substr(s, 3) } else if (s ~ /^0[0-7]*$/) b = 8; else if (s ~ /^[1-9][0-9]*$/) b = 10; else return -1; n = 0; for (i = 1; i <= length(s); i++) { n = n * b + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1; if (n > 18446744073709551615) return -1 } if (neg && n > 0) return -2; return n } FILENAME == ids { if ($3 + 0 >= lo && $3 + 0 <= hi) bad = bad " " $1; next } { sub(/\r$/, "") } $1 != u && $1 != id && $1 !~ /^[-+]/ && NF >= 3 && $1 != "" && $2 != "" && $3 != "" && length($0) < 1024 { s = num($2); c = num($3); if (s >= 0 && s <= hi && (c == -2 || c > 0 && s + c - 1 >= lo)) bad = bad " " $1 } END { if (bad != "") { print "rootless-doctor: " lo "-" hi " is not free on this machine (used by" bad "): run rootless-doctor fix here"; exit 1 } }' /etc/subgid /etc/group
[ -z "$(tail -c 1 /etc/subuid)" ] || echo >>/etc/subuid
grep -qxF ldap_user:100000:65536 /etc/subuid || printf '%s\n' ldap_user:100000:65536 >>/etc/subuid
[ -z "$(tail -c 1 /etc/subgid)" ] || echo >>/etc/subgid
grep -qxF ldap_user:100000:65536 /etc/subgid || printf '%s\n' ldap_user:100000:65536 >>/etc/subgid
EOF

# Then, by hand:
#   1. Install what provides newuidmap
