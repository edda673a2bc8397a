package fixes

import "strings"

// The delimiters of the here-documents of the script renderer (report.WritePlanScript). No line
// of a plan may equal them (CheckPlan).
const (
	ScriptEOF = "EOF"
	FileEOF   = "ROOTLESS_DOCTOR_FILE"
)

// CheckPlan refuses a plan that cannot be rendered safely. Build never makes one, but a
// plan may also come from JSON.
func CheckPlan(p Plan) error {
	for _, s := range p.Steps {
		texts := append([]string{s.ID, s.Title, s.Unless}, s.Fixes...)
		texts = append(texts, s.Why...)
		texts = append(texts, s.Intents...)
		texts = append(texts, s.Commands...)
		for _, t := range texts {
			if err := CheckText("step "+s.ID, t); err != nil {
				return err
			}
			if t == ScriptEOF || t == FileEOF {
				return unsafef("step %s holds the line %q", s.ID, t)
			}
		}
		if s.Title == "" {
			return unsafef("step %s has no title", s.ID)
		}
		for _, f := range s.Files {
			if err := checkFilePath(f.Path); err != nil {
				return err
			}
			if !modePattern().MatchString(f.Mode) {
				return unsafef("file %s: mode %q", f.Path, f.Mode)
			}
			if !strings.HasSuffix(f.Content, "\n") {
				return unsafef("file %s does not end with a newline", f.Path)
			}
			for _, line := range strings.Split(strings.TrimSuffix(f.Content, "\n"), "\n") {
				if line == ScriptEOF || line == FileEOF {
					return unsafef("file %s holds the line %q", f.Path, line)
				}
				if strings.ContainsRune(line, '\r') {
					return unsafef("file %s holds a carriage return", f.Path)
				}
			}
		}
	}
	return nil
}
