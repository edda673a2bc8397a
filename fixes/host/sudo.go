package host

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"sync"
)

// HelperCommand is the hidden subcommand of rootless-doctor that serves a Root over its
// standard input and output: `sudo rootless-doctor __apply-helper`.
const HelperCommand = "__apply-helper"

// request and response are the helper's protocol: one JSON object a line.
type request struct {
	Op      string      `json:"op"` // run, read, write, backup, discard
	Command string      `json:"command,omitempty"`
	Path    string      `json:"path,omitempty"`
	Content []byte      `json:"content,omitempty"`
	Mode    fs.FileMode `json:"mode,omitempty"`
}

type response struct {
	Output   string      `json:"output,omitempty"`
	Content  []byte      `json:"content,omitempty"`
	Mode     fs.FileMode `json:"mode,omitempty"`
	Path     string      `json:"path,omitempty"`
	Err      string      `json:"err,omitempty"`
	NotExist bool        `json:"notExist,omitempty"`
}

// Serve answers requests from r on w with root until r ends. It is what the helper runs.
func Serve(ctx context.Context, r io.Reader, w io.Writer, root *Root) error {
	dec := json.NewDecoder(r)
	enc := json.NewEncoder(w)
	for {
		var req request
		if err := dec.Decode(&req); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		var resp response
		var err error
		switch req.Op {
		case "run":
			resp.Output, err = root.Run(ctx, req.Command)
		case "read":
			resp.Content, resp.Mode, err = root.ReadFile(req.Path)
		case "write":
			err = root.WriteFile(req.Path, req.Content, req.Mode)
		case "backup":
			resp.Path, err = root.Backup(req.Path)
		case "discard":
			err = root.Discard(req.Path)
		default:
			err = fmt.Errorf("unknown request %q", req.Op)
		}
		if err != nil {
			resp.Err = err.Error()
			resp.NotExist = errors.Is(err, fs.ErrNotExist)
		}
		if err := enc.Encode(resp); err != nil {
			return err
		}
	}
}

// Sudo is the machine reached through sudo: it starts `sudo -- SELF __apply-helper` once
// (sudo asks for the password on the terminal, once) and sends it every request.
type Sudo struct {
	// Argv starts the helper, e.g. {"sudo", "--", "/usr/bin/rootless-doctor", HelperCommand}.
	Argv []string
	// Stderr receives sudo's password prompt and the helper's own errors (the CLI passes its
	// stderr stream; nil discards them).
	Stderr io.Writer

	mu  sync.Mutex
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
	err error
}

// NewSudo returns a Sudo that runs this executable's helper through sudo, its prompt and
// errors going to stderr.
func NewSudo(stderr io.Writer) (*Sudo, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return &Sudo{Argv: []string{"sudo", "--", self, HelperCommand}, Stderr: stderr}, nil
}

func (s *Sudo) call(req request) (response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return response{}, s.err
	}
	if s.cmd == nil {
		cmd := exec.Command(s.Argv[0], s.Argv[1:]...)
		cmd.Stderr = s.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			return response{}, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return response{}, err
		}
		if err := cmd.Start(); err != nil {
			s.err = fmt.Errorf("starting %v: %w", s.Argv, err)
			return response{}, s.err
		}
		s.cmd, s.in, s.out = cmd, in, bufio.NewReader(out)
	}
	line, err := json.Marshal(req)
	if err != nil {
		return response{}, err
	}
	if _, err := s.in.Write(append(line, '\n')); err != nil {
		s.err = fmt.Errorf("the sudo helper stopped: %w", err)
		return response{}, s.err
	}
	reply, err := s.out.ReadBytes('\n')
	if err != nil {
		s.err = fmt.Errorf("the sudo helper stopped (was the password refused?): %w", err)
		return response{}, s.err
	}
	var resp response
	if err := json.Unmarshal(reply, &resp); err != nil {
		return response{}, err
	}
	return resp, nil
}

func (r response) error() error {
	switch {
	case r.Err == "":
		return nil
	case r.NotExist:
		return fmt.Errorf("%s: %w", r.Err, fs.ErrNotExist)
	}
	return errors.New(r.Err)
}

// Run runs command as root through the helper.
func (s *Sudo) Run(_ context.Context, command string) (string, error) {
	resp, err := s.call(request{Op: "run", Command: command})
	if err != nil {
		return "", err
	}
	return resp.Output, resp.error()
}

// ReadFile reads path as root.
func (s *Sudo) ReadFile(path string) ([]byte, fs.FileMode, error) {
	resp, err := s.call(request{Op: "read", Path: path})
	if err != nil {
		return nil, 0, err
	}
	return resp.Content, resp.Mode, resp.error()
}

// WriteFile writes path atomically as root.
func (s *Sudo) WriteFile(path string, content []byte, mode fs.FileMode) error {
	resp, err := s.call(request{Op: "write", Path: path, Content: content, Mode: mode})
	if err != nil {
		return err
	}
	return resp.error()
}

// Backup backs path up as root.
func (s *Sudo) Backup(path string) (string, error) {
	resp, err := s.call(request{Op: "backup", Path: path})
	if err != nil {
		return "", err
	}
	return resp.Path, resp.error()
}

// Discard removes an unneeded backup as root.
func (s *Sudo) Discard(path string) error {
	resp, err := s.call(request{Op: "discard", Path: path})
	if err != nil {
		return err
	}
	return resp.error()
}

// Close ends the helper.
func (s *Sudo) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	s.in.Close()
	return s.cmd.Wait()
}
