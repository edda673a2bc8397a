package checks

// All returns every static probe in report order. This list is the registry: one explicit,
// ordered place, in the manner of kubeadm's preflight lists (no init() self-registration), so
// the order of a report never depends on file names or link order. Ids are stable
// (docs/probes.md); a new failure mode gets a new probe with a new id, appended to its group.
func All() []Probe {
	return []Probe{
		identityUser,

		processNoNewPrivs,
		processProcSys,

		idmapNewuidmap,
		idmapSubuid,
		idmapSubgid,

		kernelVersion,
		kernelConfig,

		virtWSL,
		virtContainer,

		usernsClone,
		usernsMax,
		usernsAppArmor,

		cgroupVersion,
		cgroupDelegation,

		sessionXDGRuntimeDir,
		sessionDBus,
		sessionSystemd,
		sessionLinger,

		limitsRlimits,
		limitsTasks,
		limitsKeys,
		limitsInotify,

		netDriver,
		netTun,
		netIptables,
		netPing,
		netPrivilegedPorts,
		netDNS,
		netRoutes,
		netProxy,

		storageDriver,
		storageDataRoot,
		storageTmpdir,

		conflictRootful,

		leftoverPauseProcess,
		leftoverRuntimeState,
		leftoverUserUnits,

		mountPropagation,
		mountProc,

		lsmAppArmor,
		lsmSELinux,

		engineDocker,
		enginePodman,
		engineNerdctl,
		engineBuildkit,
	}
}
