// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package clients_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// python is the interpreter with Debian's python3-grpcio and python3-grpc-tools.
const python = "/usr/bin/python3"

// testPython runs the Python client's tests, clients/python/tests, against the hub.
func testPython(t *testing.T, l *lab) {
	if out, err := exec.Command(python, "-c", "import grpc, google.protobuf").CombinedOutput(); err != nil {
		need(t, fmt.Sprintf("%s cannot import grpc (install python3-grpcio): %v: %s", python, err, out))
	}
	runSuite(t, l, "python", python, "-m", "unittest", "discover", "-s", "tests", "-t", ".", "-v")
	hello := exec.Command(python, "examples/hello.py")
	hello.Dir = "python"
	hello.Env = append(os.Environ(), "PYTHONPATH=.")
	lines := runHello(t, l, hello, len(l.oracle.execs("sh")))
	if !strings.HasPrefix(lines[0], "base ") || !strings.Contains(lines[0], " pid ") {
		t.Errorf("hello.py printed %q", lines)
	}
}

// runHello runs a client's hello world, a subscription that does not end by itself, against
// the hub, and returns the first n lines it prints.
func runHello(t *testing.T, l *lab, cmd *exec.Cmd, n int) []string {
	t.Helper()
	cmd.Env = append(cmd.Environ(), "SYSFLUX_HUB="+l.spec.Hub, "SYSFLUX_TOKEN="+l.spec.Tokens.Read)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var got []string
	for len(got) < n {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("%s ended after %q: %s", cmd, got, stderr.String())
			}
			got = append(got, line)
		case <-time.After(30 * time.Second):
			t.Fatalf("%s printed %q in 30s: %s", cmd, got, stderr.String())
		}
	}
	return got
}

// testTypeScript runs the TypeScript client's tests, clients/typescript, against the hub.
func testTypeScript(t *testing.T, l *lab) {
	if _, err := exec.LookPath("npm"); err != nil {
		need(t, "npm is not installed")
	}
	if _, err := os.Stat(filepath.Join("typescript", "node_modules", ".package-lock.json")); err != nil {
		need(t, "the TypeScript client's packages are not installed: run npm ci in clients/typescript")
	}
	runSuite(t, l, "typescript", "npm", "test")
	hello := exec.Command("node", "dist/examples/hello.js") // built by npm test
	hello.Dir = "typescript"
	lines := runHello(t, l, hello, len(l.oracle.execs("sh")))
	if !strings.HasPrefix(lines[0], "base ") || !strings.Contains(lines[0], " pid ") {
		t.Errorf("hello.ts printed %q", lines)
	}
}

// need skips the test for lack of a tool, or fails it when SYSFLUX_REQUIRE_TOOLS=1.
func need(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("SYSFLUX_REQUIRE_TOOLS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// runSuite runs a client's test command in dir with the spec, and fails with its output when it
// fails.
func runSuite(t *testing.T, l *lab, dir string, argv ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SYSFLUX_CLIENT_SPEC="+l.specPath)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	t.Logf("%s:\n%s", strings.Join(argv, " "), out)
}
