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

# 1. Make /dev/net/tun mode 0666 now and at boot
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
