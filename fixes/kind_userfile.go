package fixes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// UserFile: set a key in a file of the account's home (a containers.conf drop-in, daemon.json,
// nerdctl.toml, policy.json). The step runs as the account (Step.As), never as root: root
// writing into a home the account controls could be made to write anywhere
// (docs/security.md, "User-scope steps"). `fix --apply` as the account writes the file itself;
// as root it hands the step to a child process with the account's credentials.
var kindUserFile = kind{
	kind: finding.UserFile,
	id:   func(in finding.Intent) string { return "userfile." + in.Key },
	describe: func(in finding.Intent) string {
		return fmt.Sprintf("as %s, set %s = %s in %s", in.User, in.Key, in.Value, in.Path)
	},
	mergeKey: func(in finding.Intent) string { return "userfile:" + in.Path + ":" + in.Key },
	validate: validateUserFile,
	// The sudo helper never applies a user-scope step: it needs no root, and root must not
	// write into the account's home.
	sudo: func(finding.Intent, string, host.Host) error {
		return fmt.Errorf("a user-scope step runs as the account itself, never through sudo")
	},
	build: (*builder).userFiles,
}

var (
	userKeyPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9_-]+(\.[a-z0-9_-]+)*$`) })
	userValueOK    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_./:+-]*$`) })
)

func validateUserFile(in finding.Intent) error {
	if err := checkUser(in.User); err != nil {
		return err
	}
	if err := checkFilePath(in.Path); err != nil {
		return err
	}
	if !userKeyPattern().MatchString(in.Key) {
		return unsafef("user file key %q", in.Key)
	}
	switch in.Format {
	case "toml":
		if !userValueOK().MatchString(in.Value) {
			return unsafef("user file value %q", in.Value)
		}
	case "json":
		var v any
		if err := json.Unmarshal([]byte(in.Value), &v); err != nil {
			return fmt.Errorf("%w: %s = %q is not a JSON value: %v", ErrInvalid, in.Key, in.Value, err)
		}
	default:
		return fmt.Errorf("%w: user file format %q", ErrInvalid, in.Format)
	}
	return nil
}

// userFiles makes one step per file: its new content, the keys set over what the file holds
// now (kept as it is otherwise). A file that does not decode, or a path outside the home of
// the account the run is for, becomes a manual step.
func (b *builder) userFiles(reqs []Request, optional bool) []Step {
	paths, byPath := byField(reqs, func(r Request) string { return r.Intent.Path })
	var steps []Step
	for _, p := range paths {
		rs := byPath[p]
		in := rs[0].Intent
		id := "userfile." + strings.TrimSuffix(path.Base(p), path.Ext(p)) + suffix(optional)
		home := b.env.User.Home
		if b.env.UserErr != nil || in.User != b.env.User.Name || home == "" || !strings.HasPrefix(p, strings.TrimSuffix(home, "/")+"/") {
			s := newStep(id, fmt.Sprintf("As %s, set %s in %s", in.User, keysOf(rs), p), rs)
			s.Manual, s.As = true, in.User
			s.Why = append(s.Why, fmt.Sprintf("%s is not in the home of %s, the account this plan is for: set it by hand", p, b.env.User.Name))
			s.tasks = []Task{debugTask("Do by hand", s.Title)}
			steps = append(steps, s)
			continue
		}
		content, err := b.mergeUserFile(p, in.Format, rs)
		s := newStep(id, fmt.Sprintf("As %s, set %s in %s", in.User, keysOf(rs), p), rs)
		s.As = in.User
		if err != nil {
			s.Manual = true
			s.Why = append(s.Why, fmt.Sprintf("%s does not decode (%v): fix it, then set %s by hand", p, err, keysOf(rs)))
			s.tasks = []Task{debugTask("Do by hand", s.Title)}
			steps = append(steps, s)
			continue
		}
		s.Files = []File{{Path: p, Mode: "0644", Content: content}}
		s.tasks = userFilesTasks(s.Files, b.userRef(in.User), home)
		steps = append(steps, s)
	}
	return steps
}

func keysOf(rs []Request) string {
	var ks []string
	for _, r := range rs {
		ks = append(ks, r.Intent.Key+" = "+r.Intent.Value)
	}
	return joinAnd(ks)
}

// userFileHeader starts the files the plan owns: drop-ins named after rootless-doctor.
const userFileHeader = "# Written by `rootless-doctor fix`, which keeps what an earlier run put here.\n"

// mergeUserFile is the file's content with the requested keys set: the current content
// decoded (with the engine's decoder) and written again whole with the keys set.
func (b *builder) mergeUserFile(p, format string, rs []Request) (string, error) {
	cur := b.readText(p)
	doc := map[string]any{}
	switch format {
	case "toml":
		if _, err := toml.Decode(cur, &doc); err != nil {
			return "", err
		}
		for _, r := range rs {
			setDotted(doc, r.Intent.Key, r.Intent.Value)
		}
		var buf bytes.Buffer
		if strings.Contains(path.Base(p), "rootless-doctor") {
			buf.WriteString(userFileHeader)
		}
		if err := toml.NewEncoder(&buf).Encode(doc); err != nil {
			return "", err
		}
		return buf.String(), nil
	default:
		if strings.TrimSpace(cur) != "" {
			dec := json.NewDecoder(strings.NewReader(cur))
			dec.UseNumber()
			if err := dec.Decode(&doc); err != nil {
				return "", err
			}
		}
		for _, r := range rs {
			var v any
			dec := json.NewDecoder(strings.NewReader(r.Intent.Value))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				return "", err
			}
			setDotted(doc, r.Intent.Key, v)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
}

// setDotted sets a.b.c = v in doc, making the tables on the way (a value that is not a table
// on the way is replaced).
func setDotted(doc map[string]any, key string, v any) {
	parts := strings.Split(key, ".")
	cur := doc
	for _, k := range parts[:len(parts)-1] {
		next, ok := cur[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[k] = next
		}
		cur = next
	}
	cur[parts[len(parts)-1]] = v
}

// userFilesTasks write the files as the account: no owner, group or root. The paths are
// relative to the account's home ("~/…", which the modules expand as the become user), and
// the account is ref (the playbook's variable for the plan's own account), so one playbook
// serves a group of hosts where the account's home differs.
func userFilesTasks(files []File, ref, home string) []Task {
	var out []Task
	for _, f := range files {
		dest := "~/" + strings.TrimPrefix(f.Path, strings.TrimSuffix(home, "/")+"/")
		out = append(out,
			Task{Name: "Directory " + path.Dir(dest), Module: "ansible.builtin.file", BecomeUser: ref,
				Args: []Arg{{"path", path.Dir(dest)}, {"state", "directory"}}},
			Task{Name: "Write " + dest, Module: "ansible.builtin.copy", BecomeUser: ref,
				Args: []Arg{{"dest", dest}, {"content", f.Content}, {"mode", f.Mode}}})
	}
	return out
}

// UserSteps splits a plan: the steps that run as root (or by hand) and those that run as an
// account (Step.As).
func UserSteps(p Plan) (root, user Plan) {
	root.Steps, user.Steps = []Step{}, []Step{}
	for _, s := range p.Steps {
		if s.As != "" && !s.Manual {
			user.Steps = append(user.Steps, s)
		} else {
			root.Steps = append(root.Steps, s)
		}
	}
	return root, user
}

// RootRequests are the requests whose steps run as root: what the sudo helper is sent.
func RootRequests(reqs []Request) []Request {
	var out []Request
	for _, r := range reqs {
		if r.Intent.Kind != finding.UserFile {
			out = append(out, r)
		}
	}
	return out
}
