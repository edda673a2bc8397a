module github.com/rootless-doctor/rootless-doctor

go 1.26.0

require (
	github.com/acobaugh/osrelease v0.1.0
	github.com/moby/sys/mountinfo v0.7.2
	github.com/moby/sys/user v0.5.0
	golang.org/x/sys v0.49.0
	kernel.org/pub/linux/libs/security/libcap/cap v1.2.78
)

require kernel.org/pub/linux/libs/security/libcap/psx v1.2.78 // indirect
