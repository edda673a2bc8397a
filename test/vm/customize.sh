#!/bin/sh
# customize.sh ROOT PUBKEY ACCOUNT — mmdebstrap's --customize-hook for a lab guest.
#
# Runs on the build host as root, with ROOT the guest's root directory (before `mkfs.ext4 -d`
# turns it into the image). Makes a bootable, ssh-reachable guest and nothing more: no cgroup
# Delegate= drop-in (the stock guest has none; scenarios stage one where they ask), no
# rootless-doctor binary (copied in at run time, so images stay cached across code changes).
# The image's cache key hashes this file: editing it rebuilds the images.
set -eu
root=$1
pubkey=$2
account=$3

echo rdlab >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\trdlab\n' >"$root/etc/hosts"
# No fsck pass: the image is made fresh by mkfs and booted from a throwaway overlay.
printf '/dev/vda\t/\text4\tdefaults,errors=remount-ro\t0\t0\n' >"$root/etc/fstab"
# A machine id of its own, so the first boot of every overlay is not a "first boot"
# (systemd would run preset-all, undoing the masks below).
: >"$root/etc/machine-id"
chroot "$root" systemd-machine-id-setup >/dev/null

# qemu's user-mode network: DHCP on the virtio NIC, slirp's DNS forwarder (used only by
# `fix --apply` when its plan installs a package).
mkdir -p "$root/etc/systemd/network"
printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\n' >"$root/etc/systemd/network/10-lab.network"
chroot "$root" systemctl enable systemd-networkd.service >/dev/null 2>&1
echo 'nameserver 10.0.2.3' >"$root/etc/resolv.conf"

# A login prompt on the serial console (its output is the run's serial log).
chroot "$root" systemctl enable serial-getty@ttyS0.service >/dev/null 2>&1

# Timers that would start apt, man-db or fstrim in the middle of a measured scenario.
for t in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer man-db.timer; do
	chroot "$root" systemctl mask "$t" >/dev/null 2>&1 || true
done

# The account under test: created as Debian's useradd does it (it allots subordinate ids
# from login.defs), with the per-image key for ssh. Root gets the same key for staging.
chroot "$root" useradd --create-home --shell /bin/bash --user-group "$account"
uid=$(chroot "$root" id -u "$account")
install -d -m 0700 -o 0 -g 0 "$root/root/.ssh"
install -m 0600 -o 0 -g 0 "$pubkey" "$root/root/.ssh/authorized_keys"
install -d -m 0700 -o "$uid" -g "$uid" "$root/home/$account/.ssh"
install -m 0600 -o "$uid" -g "$uid" "$pubkey" "$root/home/$account/.ssh/authorized_keys"
cat >"$root/etc/ssh/sshd_config.d/10-lab.conf" <<'EOF'
# Key logins only; root for staging, the account through PAM (pam_systemd gives it a logind
# session, XDG_RUNTIME_DIR, a user manager and a session bus).
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM yes
UseDNS no
EOF

# The dbus-user-session package as installed, for the scenario that removes it to put it back
# without a network (the customize hook runs before mmdebstrap empties apt's cache).
mkdir -p "$root/var/cache/vmlab"
cp "$root"/var/cache/apt/archives/dbus-user-session_*.deb "$root/var/cache/vmlab/"

# What Docker's own packages (docker-ce-rootless-extras) put on PATH: Debian's docker.io keeps
# the rootless scripts in /usr/share/docker.io/contrib, and dockerd-rootless-setuptool.sh
# wants dockerd-rootless.sh on PATH and the docker CLI in the same directory.
for f in dockerd-rootless.sh dockerd-rootless-setuptool.sh; do
	ln -sf "/usr/share/docker.io/contrib/$f" "$root/usr/local/bin/$f"
done
ln -sf /usr/bin/docker "$root/usr/local/bin/docker"
