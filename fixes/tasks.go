package fixes

import "path"

// The Ansible form of a step, built with the step (the step builders know which ansible-core
// builtin module does the same job idempotently) and printed by report.WritePlanAnsible.

// Task is one Ansible task. Args are written in the order given, for byte-stable output.
type Task struct {
	Name   string
	Module string
	Args   []Arg
	// Unless is a shell condition; when it succeeds the task is skipped (a check task is
	// written before it).
	Unless string
	// ChangedWhenFalse marks a task that only reads (a query): it never reports a change.
	ChangedWhenFalse bool
	// BecomeUser runs the task as that account (user-scope steps).
	BecomeUser string
	// Register names the variable the task's result goes to; Query makes it run in check
	// mode too (check_mode: false), since what it reads decides the tasks after it.
	Register string
	Query    bool
	// When is the task's condition (a Jinja expression).
	When string
	// Notify names the handlers to run when the task changed something.
	Notify []string
}

// Arg is one argument of a task's module: the value is a string, a bool or a []string.
type Arg struct {
	Key   string
	Value any
}

// filesTasks makes the parent directory and copies each file; a copy that changes a file
// notifies the handlers named.
func filesTasks(files []File, notify ...string) []Task {
	var out []Task
	for _, f := range files {
		out = append(out,
			Task{Name: "Directory " + path.Dir(f.Path), Module: "ansible.builtin.file",
				Args: []Arg{{"path", path.Dir(f.Path)}, {"state", "directory"}}},
			Task{Name: "Write " + f.Path, Module: "ansible.builtin.copy",
				Args: []Arg{{"dest", f.Path}, {"content", f.Content}, {"owner", "root"}, {"group", "root"}, {"mode", f.Mode}}, Notify: notify})
	}
	return out
}

// AnsibleHandlers are the handlers the step's tasks notify.
func (s Step) AnsibleHandlers() []Task { return s.handlers }

// debugTask shows a message: what only a person can do.
func debugTask(name, msg string) Task {
	return Task{Name: name, Module: "ansible.builtin.debug", Args: []Arg{{"msg", msg}}}
}

// guardedCommands runs the step's commands through sh, skipped when Unless succeeds.
func guardedCommands(s Step) []Task {
	var out []Task
	for _, c := range s.Commands {
		out = append(out, Task{Name: c, Module: "ansible.builtin.command",
			Args: []Arg{{"argv", []string{"sh", "-c", c}}}, Unless: s.Unless})
	}
	return out
}

// AnsibleTasks are the tasks of the step: those its builder chose, or for a step that carries
// none (a plan decoded from JSON) its files and guarded commands, or a message for a step
// only a person can do.
func (s Step) AnsibleTasks() []Task {
	if s.tasks != nil {
		return s.tasks
	}
	if s.Manual {
		return []Task{debugTask("Do by hand", s.Title)}
	}
	return append(filesTasks(s.Files), guardedCommands(s)...)
}
