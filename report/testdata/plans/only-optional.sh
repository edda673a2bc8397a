#!/bin/sh
# rootless-doctor: nothing to fix.

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
# # O1. Set net.ipv4.ip_unprivileged_port_start = 80 now and at boot
# #    fixes: net.privileged-ports
# #    why: port 80 cannot be published (net.privileged-ports)
# put /etc/sysctl.d/61-rootless-doctor-optional.conf 0644 <<'ROOTLESS_DOCTOR_FILE'
# # Kernel settings for rootless containers (sysctl.d(5)). Written by
# # `rootless-doctor fix`, which keeps what an earlier run put here.
# net.ipv4.ip_unprivileged_port_start = 80
# ROOTLESS_DOCTOR_FILE
# sysctl -p /etc/sysctl.d/61-rootless-doctor-optional.conf
# EOF
