// Package facts is what a run knows about the host and the account checked: Env, built once
// per run by NewEnv (the host, the distribution, the account), and the facts several probes
// and the planner share, each computed at most once per run with its own sync.Once (the
// kernel, cgroup mode, systemd, the sysctl.d boot configuration, kernel modules, the mount
// table, the engines' data roots, dpkg's database, the subordinate id source, the AppArmor
// policy). It reads the machine only through host.Host and decides nothing: probes (package
// checks) judge the facts, the planner (package fixes) plans from them.
package facts
