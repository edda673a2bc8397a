module github.com/rootless-doctor/rootless-doctor

go 1.26.0

require (
	github.com/acobaugh/osrelease v0.1.0
	github.com/moby/sys/user v0.5.0
	golang.org/x/sys v0.49.0
	gotest.tools/v3 v3.5.2
	kernel.org/pub/linux/libs/security/libcap/cap v1.2.78
)

require (
	github.com/google/go-cmp v0.5.9 // indirect
	kernel.org/pub/linux/libs/security/libcap/psx v1.2.78 // indirect
)
