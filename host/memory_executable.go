package host

// Executable sets the path of the rootless-doctor binary the host reports (Host.Executable):
// userns.apparmor checks that the doctor itself, which embeds rootlesskit, may create user
// namespaces.
func (m *Memory) Executable(p string) *Memory {
	m.m.Executable = p
	return m
}
