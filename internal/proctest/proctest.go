// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// Package proctest runs sysflux processes in tests: it builds the binary once, starts
// commands with JSON logs, finds the address each serves on from its logs, and kills them
// when the test ends, showing their logs should it fail.
package proctest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Build builds the sysflux command at pkg (a path to cmd/sysflux) into a new temporary
// directory, for a TestMain; remove the directory when done.
func Build(pkg string) (binary, dir string, err error) {
	dir, err = os.MkdirTemp("", "sysflux-test")
	if err != nil {
		return "", "", err
	}
	binary = filepath.Join(dir, "sysflux")
	build := exec.Command("go", "build", "-o", binary, pkg)
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return "", "", fmt.Errorf("build sysflux: %w", err)
	}
	return binary, dir, nil
}

// Proc is a process started by a test.
type Proc struct {
	// Cmd is the running command.
	Cmd *exec.Cmd
	// Done is closed once the process has exited and its logs are read.
	Done chan struct{}

	addr chan string // the address of the process's "... serving" log line
	mu   sync.Mutex
	logs strings.Builder
}

// Start runs argv (a sysflux command, possibly behind a wrapper such as ip netns exec) with
// JSON logs and a state directory of its own, so that a hub's default store is the test's.
// The process is killed when the test ends, and dies with the test binary.
func Start(t testing.TB, name string, argv ...string) *Proc {
	t.Helper()
	cmd := exec.Command(argv[0], append(argv[1:], "--log-format", "json")...)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Proc{Cmd: cmd, addr: make(chan string, 1), Done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			var entry struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil && strings.HasSuffix(entry.Msg, " serving") {
				select {
				case p.addr <- entry.Addr:
				default:
				}
			}
		}
		cmd.Wait()
		close(p.Done)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, p.Log())
		}
	})
	return p
}

// Log returns what the process logged so far.
func (p *Proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// WaitAddr returns the address the process serves on, once it logs it.
func (p *Proc) WaitAddr(t testing.TB) string {
	t.Helper()
	select {
	case a := <-p.addr:
		return a
	case <-p.Done:
		t.Fatalf("process exited before serving:\n%s", p.Log())
	case <-time.After(30 * time.Second):
		t.Fatalf("process did not serve within 30s:\n%s", p.Log())
	}
	return ""
}

// Kill sends SIGKILL and waits for the process to end.
func (p *Proc) Kill() {
	p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.Done
}

// Term sends SIGTERM and waits for the process to end, at most timeout; it returns the exit
// code, or fails the test if the process did not stop in time.
func (p *Proc) Term(t testing.TB, timeout time.Duration) int {
	t.Helper()
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.Done:
	case <-time.After(timeout):
		t.Fatalf("process did not stop within %v of SIGTERM:\n%s", timeout, p.Log())
	}
	return p.Cmd.ProcessState.ExitCode()
}
