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

# 1. Install the packages fuse-overlayfs and slirp4netns
#    fixes: net.driver, storage.driver
#    why: kernel 3.10 has no overlay in user namespaces (storage.driver)
#    why: no network driver (net.driver)
if ! rpm -q --quiet fuse-overlayfs slirp4netns; then
	yum install -y fuse-overlayfs slirp4netns </dev/null
fi

# 2. By hand: Install pasta from upstream: CentOS Linux 7 (Core) has no package that provides it
#    fixes: net.driver
#    why: pasta is faster (net.driver)

# 3. Set user.max_user_namespaces = 28633 now and at boot
#    fixes: userns.max
#    why: user namespaces are disabled (0) (userns.max)
put /etc/sysctl.d/60-rootless-doctor.conf 0644 <<'ROOTLESS_DOCTOR_FILE'
# Kernel settings for rootless containers (sysctl.d(5)). Written by
# `rootless-doctor fix`, which keeps what an earlier run put here.
user.max_user_namespaces = 28633
ROOTLESS_DOCTOR_FILE
sysctl -p /etc/sysctl.d/60-rootless-doctor.conf

# 4. By hand: Remove or comment out user.max_user_namespaces in /etc/sysctl.d/99-cis.conf and user.max_user_namespaces in /etc/sysctl.d/99-sysctl.conf (/etc/sysctl.conf): read later at boot, they would undo 60-rootless-doctor.conf
#    fixes: userns.max
#    why: /etc/sysctl.d/99-cis.conf sets user.max_user_namespaces = 0 and is read after 60-rootless-doctor.conf, so at boot it wins over user.max_user_namespaces = 28633
#    why: /etc/sysctl.d/99-sysctl.conf (/etc/sysctl.conf) sets user.max_user_namespaces = 0 and is read after 60-rootless-doctor.conf, so at boot it wins over user.max_user_namespaces = 28633

# 5. By hand: boot with systemd.unified_cgroup_hierarchy=1 for resource limits (needs a newer kernel than 3.10)
#    fixes: cgroup.version
EOF

# Then, by hand:
#   2. Install pasta from upstream: CentOS Linux 7 (Core) has no package that provides it
#   4. Remove or comment out user.max_user_namespaces in /etc/sysctl.d/99-cis.conf and user.max_user_namespaces in /etc/sysctl.d/99-sysctl.conf (/etc/sysctl.conf): read later at boot, they would undo 60-rootless-doctor.conf
#   5. boot with systemd.unified_cgroup_hierarchy=1 for resource limits (needs a newer kernel than 3.10)
