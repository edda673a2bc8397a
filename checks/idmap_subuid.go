package checks

// idmapSubuid checks the account's subordinate uids (/etc/subuid, or the libsubid module of
// the nsswitch `subid:` line). The logic is shared with idmap.subgid in idmap_subid.go.
var idmapSubuid = subIDProbe(subIDKind{
	id: "idmap.subuid", word: "uid", file: "/etc/subuid", idFile: "/etc/passwd", defs: "SUB_UID", idMap: "uid_map",
})
