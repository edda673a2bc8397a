package checks

// idmapSubgid checks the account's subordinate gids (/etc/subgid, or the libsubid module of
// the nsswitch `subid:` line) with the logic of idmap.subuid (idmap_subid.go). RootlessKit
// maps the account's primary gid to root and the subordinate gids after it, and stops when
// the account has no subgid range even if it has subuids (pkg/parent/idtools: "no subgid
// ranges found").
var idmapSubgid = subIDProbe(subIDKind{
	id: "idmap.subgid", word: "gid", file: "/etc/subgid", idFile: "/etc/group", defs: "SUB_GID", idMap: "gid_map",
	flags: []string{"-g"},
})
