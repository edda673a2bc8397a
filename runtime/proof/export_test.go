package proof

import "encoding/json"

// CgroupStepJSON runs the cgroup step (as the parent role does) and returns its report as
// JSON, for the live tests of package proof_test that run it as a throwaway account.
func CgroupStepJSON() []byte {
	b, _ := json.Marshal(cgroupStep())
	return b
}
