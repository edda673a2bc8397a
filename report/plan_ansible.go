package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/fixes"
)

// The Ansible renderer: the same plan as a playbook of ansible-core builtin modules only
// (apt, package, copy, file, lineinfile, command, debug), so a fleet is fixed through the
// automation it already runs. sysctl, modprobe, zypper, pacman and apk modules are not
// used: they live in ansible.posix and community.general, which a bare ansible-core lacks.
//
// Optional steps carry the tags "never" and "optional": they run only with
// `--tags all,optional`.
//
// One playbook serves a group of hosts (issue 15): the plan's account is the variable
// rootless_doctor_user (host_vars, group_vars or -e; the account the plan was made for by
// default), a subordinate range is computed on each host by a task, and the reloads after a
// file changed (sysctl -p, apparmor_parser -r, systemctl daemon-reload) are handlers the file
// tasks notify, so a second run — and `ansible-playbook --check --diff` after the first —
// reports no change.

// WritePlanAnsible writes the plan as an Ansible playbook for `ansible-playbook -i HOSTS`.
func WritePlanAnsible(w io.Writer, p fixes.Plan) error {
	if err := fixes.CheckPlan(p); err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("---\n")
	b.WriteString("# Fix plan from rootless-doctor as an Ansible playbook (ansible-core builtin modules).\n")
	b.WriteString("# Every task is idempotent. Optional steps are tagged \"optional\" and \"never\":\n")
	b.WriteString("# run them too with --tags all,optional.\n")
	b.WriteString("- name: Fix rootless containers (rootless-doctor)\n")
	b.WriteString("  hosts: all\n  become: true\n  gather_facts: false\n")
	if acct := p.Account(); acct != "" {
		if err := fixes.CheckText("account", acct); err != nil {
			return err
		}
		// Play vars outrank inventory vars: the account goes through a second name, so
		// rootless_doctor_user set per host (or with -e) wins over the default.
		b.WriteString("  vars:\n")
		b.WriteString("    # The account to fix on each host: set rootless_doctor_user in host_vars or group_vars,\n")
		fmt.Fprintf(&b, "    # or with -e rootless_doctor_user=NAME; the plan was made for %s.\n", acct)
		fmt.Fprintf(&b, "    %s: %s\n", fixes.AccountVar, yamlString("{{ rootless_doctor_user | default('"+acct+"') }}"))
	}
	b.WriteString("  tasks:\n")
	if p.Empty() {
		writeTask(&b, fixes.Task{Name: "Nothing to fix", Module: "ansible.builtin.debug", Args: []fixes.Arg{{Key: "msg", Value: "rootless-doctor found nothing to fix"}}}, false, "")
	}
	check := 0
	num := p.Numbers()
	var handlers []fixes.Task
	for i, s := range p.Steps {
		for _, h := range s.AnsibleHandlers() {
			if !slices.ContainsFunc(handlers, func(o fixes.Task) bool { return o.Name == h.Name }) {
				handlers = append(handlers, h)
			}
		}
		fmt.Fprintf(&b, "\n    # %s. %s\n", num[i], s.Title)
		if len(s.Fixes) > 0 {
			fmt.Fprintf(&b, "    # fixes: %s\n", strings.Join(s.Fixes, ", "))
		}
		for _, why := range s.Why {
			fmt.Fprintf(&b, "    # why: %s\n", why)
		}
		for _, t := range s.AnsibleTasks() {
			if err := fixes.CheckText("task", t.Name); err != nil {
				return err
			}
			t.Name = num[i] + ". " + t.Name
			reg := ""
			if t.Unless != "" {
				check++
				reg = fmt.Sprintf("rootless_doctor_check_%d", check)
				writeTask(&b, fixes.Task{Name: t.Name + " (already done?)", Module: "ansible.builtin.command",
					Args: []fixes.Arg{{Key: "argv", Value: []string{"sh", "-c", t.Unless}}}, ChangedWhenFalse: true}, s.Optional, reg)
			}
			writeTask(&b, t, s.Optional, "")
			if reg != "" {
				// writeTask wrote the task; add its condition.
				fmt.Fprintf(&b, "      when: %s.rc != 0\n", reg)
			}
		}
	}
	if len(handlers) > 0 {
		b.WriteString("\n  handlers:\n")
		for _, h := range handlers {
			if err := fixes.CheckText("task", h.Name); err != nil {
				return err
			}
			writeTask(&b, h, false, "")
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// writeTask writes one task at the indentation of a play's task list. register, when set,
// makes it a check task: its result is registered and it never fails.
func writeTask(b *bytes.Buffer, t fixes.Task, optional bool, register string) {
	fmt.Fprintf(b, "    - name: %s\n", yamlString(t.Name))
	fmt.Fprintf(b, "      %s:\n", t.Module)
	for _, a := range t.Args {
		writeValue(b, "        ", a.Key, a.Value)
	}
	if register != "" {
		fmt.Fprintf(b, "      register: %s\n", register)
		b.WriteString("      failed_when: false\n")
	}
	if t.Register != "" {
		fmt.Fprintf(b, "      register: %s\n", t.Register)
	}
	if t.ChangedWhenFalse {
		b.WriteString("      changed_when: false\n")
	}
	if t.BecomeUser != "" {
		fmt.Fprintf(b, "      become_user: %s\n", yamlString(t.BecomeUser))
	}
	if t.Query {
		// It only reads, and what it reads decides the tasks after it: run it in check mode.
		b.WriteString("      check_mode: false\n")
	}
	if t.When != "" {
		fmt.Fprintf(b, "      when: %s\n", yamlString(t.When))
	}
	if len(t.Notify) > 0 {
		b.WriteString("      notify:\n")
		for _, n := range t.Notify {
			fmt.Fprintf(b, "        - %s\n", yamlString(n))
		}
	}
	if optional {
		b.WriteString("      tags: [never, optional]\n")
	}
}

func writeValue(b *bytes.Buffer, indent, key string, v any) {
	switch v := v.(type) {
	case bool:
		fmt.Fprintf(b, "%s%s: %t\n", indent, key, v)
	case []string:
		fmt.Fprintf(b, "%s%s:\n", indent, key)
		for _, s := range v {
			fmt.Fprintf(b, "%s  - %s\n", indent, yamlString(s))
		}
	case string:
		if blockOK(v) {
			fmt.Fprintf(b, "%s%s: |\n", indent, key)
			for _, line := range strings.SplitAfter(strings.TrimSuffix(v, "\n"), "\n") {
				if strings.TrimSuffix(line, "\n") == "" {
					b.WriteString("\n")
					continue
				}
				b.WriteString(indent + "  " + line)
			}
			b.WriteString("\n")
			return
		}
		fmt.Fprintf(b, "%s%s: %s\n", indent, key, yamlString(v))
	}
}

// blockOK reports whether s reads back unchanged from a YAML literal block ("|", clip):
// several lines, exactly one final newline, a first line that does not start with a blank,
// and nothing YAML would fold or strip.
func blockOK(s string) bool {
	if !strings.Contains(strings.TrimSuffix(s, "\n"), "\n") || !strings.HasSuffix(s, "\n") || strings.HasSuffix(s, "\n\n") {
		return false
	}
	if s[0] == ' ' || s[0] == '\t' || strings.ContainsAny(s, "\r\t") {
		return false
	}
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if fixes.CheckText("line", line) != nil || strings.HasSuffix(line, " ") {
			return false
		}
	}
	return true
}

// yamlString quotes a scalar as a JSON string, which YAML reads as a double-quoted scalar.
func yamlString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}
