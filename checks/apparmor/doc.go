// Package apparmor answers the question userns.apparmor asks of a host where
// kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu 23.10 and later): does a profile of
// /etc/apparmor.d attach to this executable, and does it allow `userns`? profile.go scans one
// policy file (a pragmatic scanner, not a compiler); policy.go follows includes and variables
// across files, reads which profiles are disabled and loaded (Load), and judges one
// executable (Policy.Grants). It reads the machine only through host.Host.
package apparmor
