package distro

import "strings"

// The distro facts probes need. Each says why and since when, with the source.

// UbuntuFamily reports whether this is Ubuntu or a derivative that ships Ubuntu's kernel
// (Mint, Pop!_OS, elementary, Zorin).
func (i Info) UbuntuFamily() bool {
	if i.Is("ubuntu", "linuxmint", "pop", "elementary", "zorin") {
		return true
	}
	for _, l := range i.IDLike {
		if l == "ubuntu" {
			return true
		}
	}
	return false
}

// PatchedOverlayInUserNS reports whether the distribution kernel allows overlayfs mounts in
// an unprivileged user namespace before upstream allowed it in 5.11: Ubuntu has carried the
// patch since 2015, so rootless overlay2 works on any Ubuntu kernel
// (https://docs.docker.com/engine/security/rootless/, "overlay2 … Ubuntu-specific kernel
// patch"). kernelRelease is consulted because a non-Ubuntu kernel on Ubuntu userland (a cloud
// image with a vanilla kernel) does not have it; Ubuntu kernels end in -generic, -aws, -azure,
// -gcp, -kvm, -lowlatency, -oracle, -raspi, -ibm or -virtual.
func (i Info) PatchedOverlayInUserNS(kernelRelease string) bool {
	if !i.UbuntuFamily() {
		return false
	}
	for _, f := range []string{"-generic", "-aws", "-azure", "-gcp", "-gke", "-kvm", "-lowlatency", "-oracle", "-raspi", "-ibm", "-virtual", "-hwe"} {
		if strings.Contains(kernelRelease, f) {
			return true
		}
	}
	return false
}

// NeedsUnprivilegedUsernsClone reports whether the release ships
// kernel.unprivileged_userns_clone=0: Debian up to 10 (buster). "This step is not required on
// Debian 11" (Docker rootless docs); Debian's kernel switched the default in 5.10.
func (i Info) NeedsUnprivilegedUsernsClone() bool {
	return i.ID == "debian" && i.Major() >= 0 && i.Major() <= 10
}

// ShipsMaxUserNamespacesZero reports whether the release sets user.max_user_namespaces=0 by
// default: RHEL/CentOS/Oracle 7 (https://access.redhat.com/solutions/6418011).
func (i Info) ShipsMaxUserNamespacesZero() bool {
	return i.Is("rhel", "centos", "ol") && i.Major() == 7
}

// RestrictsUsernsViaAppArmor reports whether the release turns on
// kernel.apparmor_restrict_unprivileged_userns by default: Ubuntu 23.10 and later
// (https://ubuntu.com/blog/ubuntu-23-10-restricted-unprivileged-user-namespaces); since 24.04
// it is on for every install. The probe reads the sysctl itself; this only explains it.
func (i Info) RestrictsUsernsViaAppArmor() bool {
	return i.ID == "ubuntu" && i.AtLeast(23, 10)
}
