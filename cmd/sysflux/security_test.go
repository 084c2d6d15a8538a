package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/internal/mtls/mtlstest"
)

// runEnv runs sysflux to completion with extra environment variables and returns its exit
// code, standard output and standard error.
func runEnv(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("run sysflux %v: %v", args, err)
	return 0, "", ""
}

// TestMTLSEndToEnd runs an agent and a hub as processes on loopback, the hub dialling the
// agent over mutual TLS (the agent serving only the hub's certificate name) and serving its
// API over TLS with bearer tokens, and checks that a client with a read token receives every
// record of the trace, that one without a token is refused without the token or a record in
// the message, and that a read token cannot change the rules.
func TestMTLSEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with processes")
	}
	p := mtlstest.New(t)
	trace := "sfprocessor_shellshock.sf"
	want := readTraces(t, trace)
	const readToken, adminToken = "e2e-read-token-0123456789", "e2e-admin-token-0123456789"
	sum := sha256.Sum256([]byte(readToken))
	tokens := filepath.Join(t.TempDir(), "tokens.yaml")
	if err := os.WriteFile(tokens, fmt.Appendf(nil, "tokens:\n  - name: reader\n    sha256: %s\n    scopes: [read]\n  - name: admin\n    sha256: %x\n    scopes: [admin]\n",
		hex.EncodeToString(sum[:]), sha256.Sum256([]byte(adminToken))), 0o600); err != nil {
		t.Fatal(err)
	}

	agent := start(t, "agent", "agent", "--listen", "127.0.0.1:0", "--agent-id", "agent-tls", "--node", "node-tls",
		"--replay", filepath.Join(traces, trace),
		"--tls-cert", p.Server.Cert, "--tls-key", p.Server.Key, "--tls-client-ca", p.CA, "--allowed-hub", mtlstest.ClientName)
	agentAddr := agent.WaitAddr(t)
	hub := start(t, "hub", "hub", "--listen", "127.0.0.1:0", "--agent", agentAddr,
		"--agent-ca", p.CA, "--agent-cert", p.Client.Cert, "--agent-key", p.Client.Key,
		"--tls-cert", p.Server.Cert, "--tls-key", p.Server.Key, "--tokens", tokens)
	hubAddr := hub.WaitAddr(t)

	code, out, errOut := runEnv(t, []string{tokenEnv + "=" + readToken},
		"tail", "--hub", hubAddr, "--tls-ca", p.CA, "--from-oldest", "--json", "--count", fmt.Sprint(len(want)))
	if code != 0 {
		t.Fatalf("tail with the read token: exit %d:\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want) {
		t.Fatalf("tail with the read token printed %d records, want %d", len(lines), len(want))
	}
	for i, l := range lines {
		var rec sysflowv1.Record
		if err := protojson.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("record %d: %v: %s", i, err, l)
		}
		if rec.GetAgentId() != "agent-tls" || rec.GetSeq() != int64(i+1) {
			t.Fatalf("record %d is from agent %q with seq %d, want agent-tls seq %d", i, rec.GetAgentId(), rec.GetSeq(), i+1)
		}
	}

	// The token from the flag, for a store command.
	code, out, errOut = runEnv(t, nil, "query", "--hub", hubAddr, "--tls-ca", p.CA, "--token", readToken, "--json", "--all")
	if code != 0 || strings.Count(out, "\n") == 0 {
		t.Fatalf("query with the read token: exit %d, %d lines:\n%s", code, strings.Count(out, "\n"), errOut)
	}

	refusals := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"tail without a token", nil, []string{"tail", "--hub", hubAddr, "--tls-ca", p.CA, "--count", "1"}, "Unauthenticated"},
		{"query with a wrong token", []string{tokenEnv + "=" + readToken + "x"}, []string{"query", "--hub", hubAddr, "--tls-ca", p.CA}, "Unauthenticated"},
		{"rules push with the read token", []string{tokenEnv + "=" + readToken},
			[]string{"rules", "push", "--hub", hubAddr, "--tls-ca", p.CA, filepath.Join("..", "..", "policy", "defaults", "falco_rules.yaml")}, "PermissionDenied"},
		{"tail trusting another CA", []string{tokenEnv + "=" + readToken}, []string{"tail", "--hub", hubAddr, "--tls-ca", p.OtherCA, "--count", "1", "--connect-timeout", "3s"}, "certificate signed by unknown authority"},
		{"tail in plaintext to the TLS hub", []string{tokenEnv + "=" + readToken}, []string{"tail", "--hub", hubAddr, "--count", "1", "--connect-timeout", "3s"}, "not reachable"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runEnv(t, tt.env, tt.args...)
			if code == 0 || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant a failure saying %q", code, errOut, tt.want)
			}
			if strings.Contains(errOut, readToken) || strings.Contains(out, "node-tls") || strings.Contains(errOut, "node-tls") {
				t.Errorf("the refusal shows the token or a record:\n%s%s", out, errOut)
			}
		})
	}
	if logs := hub.Log(); !strings.Contains(logs, `"token":"reader"`) || strings.Contains(logs, readToken) {
		t.Errorf("the hub's logs should name the read token's refusal by name, never show the token:\n%s", logs)
	}
}

// TestExposedAddresses runs the commands on addresses that are not loopback without TLS or
// authentication, and checks that each fails at start with a usage error that names the
// address and the flags that would protect it; nothing is bound.
func TestExposedAddresses(t *testing.T) {
	trace := filepath.Join(traces, "sfprocessor_shellshock.sf")
	p := mtlstest.New(t)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"agent in plaintext", []string{"agent", "--listen", "0.0.0.0:7701", "--replay", trace}, []string{"--listen 0.0.0.0:7701", "--tls-client-ca", "--insecure"}},
		{"agent without client certificates", []string{"agent", "--listen", "192.0.2.1:7701", "--replay", trace, "--tls-cert", p.Server.Cert, "--tls-key", p.Server.Key},
			[]string{"--listen 192.0.2.1:7701", "no client certificate check", "--tls-client-ca"}},
		{"agent certificate missing", []string{"agent", "--listen", "127.0.0.1:0", "--replay", trace, "--tls-cert", "a.crt", "--tls-key", "a.key"}, []string{"--tls-cert", "a.crt"}},
		{"hub API without authentication", []string{"hub", "--listen", "192.0.2.1:7700", "--agent", "127.0.0.1:7701", "--data", "", "--tls-cert", p.Server.Cert, "--tls-key", p.Server.Key},
			[]string{"no caller authentication", "--tokens"}},
		{"agent allowed hubs without a CA", []string{"agent", "--listen", "127.0.0.1:0", "--replay", trace, "--allowed-hub", "hub-a"}, []string{"--allowed-hub needs --tls-client-ca"}},
		{"hub API in plaintext", []string{"hub", "--listen", "[::]:7700", "--agent", "127.0.0.1:7701", "--data", ""}, []string{"--listen [::]:7700", "--tokens", "--insecure"}},
		{"hub dialling an agent in plaintext", []string{"hub", "--agent", "agent.example:7701", "--data", ""}, []string{"--agent agent.example:7701", "--agent-ca"}},
		{"hub agent certificate without CA", []string{"hub", "--agent", "127.0.0.1:7701", "--agent-cert", "c.crt", "--agent-key", "c.key", "--data", ""}, []string{"--agent-ca"}},
		{"up with the agent exposed", []string{"up", "--agent-listen", "0.0.0.0:7701", "--replay", trace, "--data", ""}, []string{"--agent-listen 0.0.0.0:7701"}},
		{"client in plaintext", []string{"query", "--hub", "hub.example:7700"}, []string{"--hub hub.example:7700", "--tls-ca"}},
		{"client with TLS and --insecure", []string{"tail", "--tls-ca", "ca.crt", "--insecure"}, []string{"--insecure"}},
		{"client CA missing", []string{"rules", "list", "--tls-ca", "missing-ca.crt"}, []string{"missing-ca.crt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runEnv(t, nil, tt.args...)
			t.Log(strings.TrimSpace(errOut))
			if code != exitUsage {
				t.Fatalf("sysflux %v: exit %d, want %d:\n%s", tt.args, code, exitUsage, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("sysflux %v: stderr %q does not say %q", tt.args, errOut, w)
				}
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:7700": true, "127.8.9.10:1": true, "[::1]:7700": true, "localhost:7700": true, "LOCALHOST:1": true,
		"[::ffff:127.0.0.1]:1": true, "0.0.0.0:7700": false, ":7700": false, "[::]:7700": false, "10.0.0.1:7700": false,
		"localhost.example.com:1": false, "hub:7700": false, "127.0.0.1": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestInsecureWarns checks that --insecure lets an exposed address through with a warning that
// names it, and that loopback needs neither.
func TestInsecureWarns(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	if err := exposed(log, "listen", "0.0.0.0:7700", true, []string{"TLS"}, "use TLS"); err != nil {
		t.Fatalf("exposed with --insecure: %v", err)
	}
	if out := buf.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "0.0.0.0:7700") {
		t.Errorf("exposed with --insecure logged %q, want a warning naming the address", out)
	}
	buf.Reset()
	if err := exposed(log, "listen", "127.0.0.1:7700", false, []string{"TLS"}, "use TLS"); err != nil || buf.Len() != 0 {
		t.Errorf("exposed on loopback: %v, logged %q; want neither", err, buf.String())
	}
	err := exposed(log, "listen", "10.0.0.1:7700", false, []string{"TLS"}, "use TLS")
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitUsage || !strings.Contains(err.Error(), "10.0.0.1:7700") {
		t.Errorf("exposed without --insecure: %v, want a usage error naming the address", err)
	}
}
