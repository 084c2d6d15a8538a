// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package clients_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testGRPCurl makes the live assertions with grpcurl, at the version tools.mod pins, using only
// what the hub's reflection service tells it: no proto files.
func testGRPCurl(t *testing.T, l *lab) {
	s := l.spec
	bin := filepath.Join(t.TempDir(), "grpcurl")
	build := exec.Command("go", "build", "-modfile=../tools.mod", "-o", bin, "github.com/fullstorydev/grpcurl/cmd/grpcurl")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build grpcurl: %v\n%s", err, out)
	}
	g := grpcurl{bin: bin, hub: s.Hub}
	read, admin := "authorization: Bearer "+s.Tokens.Read, "authorization: Bearer "+s.Tokens.Admin

	t.Run("reflection", func(t *testing.T) {
		out := g.ok(t, nil, "list")
		for _, svc := range []string{"sysflux.hub.v1.HubService", "sysflux.policy.v1.PolicyService", "grpc.health.v1.Health"} {
			if !strings.Contains(out, svc) {
				t.Errorf("list: %q lacks %s", out, svc)
			}
		}
		if out := g.ok(t, nil, "describe sysflux.hub.v1.HubService"); !strings.Contains(out, "rpc Subscribe") {
			t.Errorf("describe: %s", out)
		}
	})

	t.Run("subscribe", func(t *testing.T) {
		req := map[string]any{
			"from_oldest": true, "node_ids": s.Subscribe.NodeIDs, "record_types": s.Subscribe.RecordTypes,
			"filter": s.Subscribe.Filter, "filter_language": "FILTER_LANGUAGE_FALCO", "heartbeat_interval": "1s",
		}
		// The stream ends at -max-time, after the records and at least one heartbeat.
		out, _ := g.run(nil, "sysflux.hub.v1.HubService/Subscribe", "-H", read, "-max-time", "4", "-d", jsonOf(t, req))
		var seqs []int64
		heartbeatAfter := false
		for _, m := range decodeStream(t, out) {
			if b, ok := m["batch"].(map[string]any); ok {
				for _, r := range b["records"].([]any) {
					seqs = append(seqs, seqOf(t, r))
				}
				heartbeatAfter = false
			}
			if _, ok := m["heartbeat"]; ok && len(seqs) > 0 {
				heartbeatAfter = true
			}
		}
		if !slices.Equal(seqs, s.Subscribe.ExpectedSeqs) {
			t.Errorf("subscription delivered %v\nwant %v", seqs, s.Subscribe.ExpectedSeqs)
		}
		if !heartbeatAfter {
			t.Errorf("no heartbeat after the last record:\n%s", out)
		}
	})

	t.Run("query", func(t *testing.T) {
		q := s.Query
		req := map[string]any{
			"start_time": q.StartTime.Format(time.RFC3339Nano), "end_time": q.EndTime.Format(time.RFC3339Nano),
			"node_ids": q.NodeIDs, "record_types": q.RecordTypes, "page_size": q.PageSize,
		}
		var seqs []int64
		pages := 0
		for {
			out := g.ok(t, nil, "sysflux.hub.v1.HubService/Query", "-H", read, "-d", jsonOf(t, req))
			var page struct {
				Records       []any  `json:"records"`
				NextPageToken string `json:"nextPageToken"`
			}
			if err := json.Unmarshal([]byte(out), &page); err != nil {
				t.Fatalf("query page: %v\n%s", err, out)
			}
			pages++
			for _, r := range page.Records {
				seqs = append(seqs, seqOf(t, r))
			}
			if page.NextPageToken == "" {
				break
			}
			req["page_token"] = page.NextPageToken
		}
		if pages < q.MinPages {
			t.Errorf("%d pages, want at least %d", pages, q.MinPages)
		}
		if !slices.Equal(seqs, q.ExpectedSeqs) {
			t.Errorf("query returned %d records, want %d", len(seqs), len(q.ExpectedSeqs))
		}
	})

	t.Run("provenance and export", func(t *testing.T) {
		out := g.ok(t, nil, "sysflux.hub.v1.HubService/Query", "-H", read,
			"-d", `{"filter": "proc.name = iptables", "record_types": ["RECORD_TYPE_PROCESS_EVENT"], "page_size": 1}`)
		var page struct {
			Records []struct {
				ProcessEvent struct {
					ProcOid struct {
						Hpid string `json:"hpid"`
					} `json:"procOid"`
				} `json:"processEvent"`
			} `json:"records"`
		}
		if err := json.Unmarshal([]byte(out), &page); err != nil || len(page.Records) == 0 {
			t.Fatalf("query: %v\n%s", err, out)
		}
		pid := page.Records[0].ProcessEvent.ProcOid.Hpid
		out = g.ok(t, nil, "sysflux.hub.v1.HubService/GetProvenance", "-H", read, "-d", fmt.Sprintf(`{"node_id": "base", "pid": %s}`, pid))
		if !strings.Contains(out, "/usr/sbin/iptables") || !strings.Contains(out, `"ancestors"`) {
			t.Errorf("provenance of pid %s:\n%s", pid, out)
		}
		out = g.ok(t, nil, "sysflux.hub.v1.HubService/Export", "-H", read, "-d", `{"node_ids": ["base"], "filter": "proc.name = iptables"}`)
		if !strings.Contains(out, `"chunk"`) || !strings.Contains(out, `"summary"`) {
			t.Errorf("export:\n%.2000s", out)
		}
	})

	t.Run("alerts and rules push", func(t *testing.T) {
		sub := g.stream(t, "sysflux.hub.v1.HubService/Subscribe", "-H", read, "-max-time", "120",
			"-d", `{"content": "SUBSCRIBE_CONTENT_ALERTS", "heartbeat_interval": "1s"}`)
		sub.waitHeartbeat(t)
		r := l.replay(t)
		if got, want := sub.alerts(t, r.AgentID, s.Rules.BaseAlerts), map[string]int{s.Rules.BaseRule: s.Rules.BaseAlerts}; !maps.Equal(got, want) {
			t.Errorf("alerts before the push: %v, want %v", got, want)
		}

		content, err := os.ReadFile(s.Rules.PushPath)
		if err != nil {
			t.Fatal(err)
		}
		const name = "grpcurl-iptables.yaml"
		put := jsonOf(t, map[string]any{"files": []any{map[string]any{"name": name, "content": string(content)}}})
		if out, err := g.run([]byte(put), "sysflux.policy.v1.PolicyService/PutRules", "-H", read, "-d", "@"); err == nil ||
			!strings.Contains(out, "PermissionDenied") {
			t.Errorf("push with a read token: %v\n%s", err, out)
		}
		out := g.ok(t, []byte(put), "sysflux.policy.v1.PolicyService/PutRules", "-H", admin, "-d", "@")
		t.Cleanup(func() {
			g.ok(t, nil, "sysflux.policy.v1.PolicyService/DeleteRules", "-H", admin, "-d", fmt.Sprintf(`{"names": [%q]}`, name))
		})
		if !strings.Contains(out, `"version"`) {
			t.Errorf("push: %s", out)
		}
		if out := g.ok(t, nil, "sysflux.policy.v1.PolicyService/ListRules", "-H", read); !strings.Contains(out, `"name": "`+s.Rules.PushRule+`"`) {
			t.Errorf("rules in force after the push lack %q:\n%s", s.Rules.PushRule, out)
		}
		r = l.replay(t)
		got := sub.alerts(t, r.AgentID, s.Rules.BaseAlerts+s.Rules.PushAlerts)
		if want := map[string]int{s.Rules.BaseRule: s.Rules.BaseAlerts, s.Rules.PushRule: s.Rules.PushAlerts}; !maps.Equal(got, want) {
			t.Errorf("alerts after the push: %v, want %v", got, want)
		}

		bad, err := os.ReadFile(s.Rules.BadPath)
		if err != nil {
			t.Fatal(err)
		}
		req := jsonOf(t, map[string]any{"files": []any{map[string]any{"name": "broken.yaml", "content": string(bad)}}})
		out, err = g.run([]byte(req), "sysflux.policy.v1.PolicyService/PutRules", "-H", admin, "-d", "@")
		if err == nil || !containsAll(out, "InvalidArgument", `"file": "broken.yaml"`, fmt.Sprintf(`"line": %d`, s.Rules.BadLine)) {
			t.Errorf("push of a broken file: %v\n%s", err, out)
		}
	})

	t.Run("documented commands", func(t *testing.T) {
		testDocumentedCommands(t, l, bin)
	})

	t.Run("errors", func(t *testing.T) {
		out, err := grpcurl{bin: bin, hub: s.Unreachable}.run(nil, "list", "-max-time", "2")
		// grpcurl retries the connection until -max-time.
		if err == nil || !containsAll(out, "Failed to dial target host", s.Unreachable) {
			t.Errorf("unreachable hub: %v\n%s", err, out)
		}
		b := s.BadFilter
		for _, rpc := range []string{"Query", "Subscribe"} {
			out, err := g.run(nil, "sysflux.hub.v1.HubService/"+rpc, "-H", read, "-max-time", "5", "-d", jsonOf(t, map[string]any{"filter": b.Filter}))
			if err == nil || !containsAll(out, "InvalidArgument", fmt.Sprintf("filter:%d:%d: %s", b.Line, b.Column, b.Message),
				fmt.Sprintf(`"column": %d`, b.Column), "sysflux.policy.v1.RulesErrors") {
				t.Errorf("%s with a bad filter: %v\n%s", rpc, err, out)
			}
		}
		out, err = g.run(nil, "sysflux.hub.v1.HubService/ListAgents", "-max-time", "5")
		if err == nil || !containsAll(out, "Unauthenticated", "no bearer token") {
			t.Errorf("no token: %v\n%s", err, out)
		}
	})
}

// grpcurl runs grpcurl against one address in plaintext.
type grpcurl struct {
	bin, hub string
}

// run runs grpcurl with flags, the hub's address, then verb: a method, "list", or "describe
// NAME". stdin is its input; it returns its combined output.
func (g grpcurl) run(stdin []byte, verb string, flags ...string) (string, error) {
	argv := append(append(append([]string{"-plaintext"}, flags...), g.hub), strings.Fields(verb)...)
	cmd := exec.Command(g.bin, argv...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// ok runs grpcurl as run does and fails the test unless it succeeds.
func (g grpcurl) ok(t *testing.T, stdin []byte, verb string, flags ...string) string {
	t.Helper()
	out, err := g.run(stdin, verb, flags...)
	if err != nil {
		t.Fatalf("grpcurl %v %s: %v\n%s", flags, verb, err, out)
	}
	return out
}

// streamed is a grpcurl Subscribe running in the background.
type streamed struct {
	msgs chan map[string]any
}

// stream starts grpcurl on a server-streaming method and decodes its messages as they come.
func (g grpcurl) stream(t *testing.T, method string, flags ...string) *streamed {
	t.Helper()
	cmd := exec.Command(g.bin, append(append([]string{"-plaintext"}, flags...), g.hub, method)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &streamed{msgs: make(chan map[string]any)}
	done := make(chan struct{})
	go func() {
		defer close(s.msgs)
		dec := json.NewDecoder(bufio.NewReader(stdout))
		for {
			var m map[string]any
			if dec.Decode(&m) != nil {
				return
			}
			select {
			case s.msgs <- m:
			case <-done:
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(done)
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("grpcurl stderr: %s", stderr.String())
		}
	})
	return s
}

// next returns the next message, failing the test after a while without one.
func (s *streamed) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case m, ok := <-s.msgs:
		if !ok {
			t.Fatal("the grpcurl stream ended")
		}
		return m
	case <-time.After(60 * time.Second):
		t.Fatal("no message from grpcurl in 60s")
	}
	return nil
}

func (s *streamed) waitHeartbeat(t *testing.T) {
	t.Helper()
	for {
		if _, ok := s.next(t)["heartbeat"]; ok {
			return
		}
	}
}

// alerts counts by rule the alerts of agent until n of them arrived and then a heartbeat.
func (s *streamed) alerts(t *testing.T, agent string, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	total := 0
	for {
		m := s.next(t)
		if _, ok := m["heartbeat"]; ok && total >= n {
			return got
		}
		a, ok := m["alert"].(map[string]any)
		if !ok {
			continue
		}
		if pos, _ := a["position"].(map[string]any); pos["agentId"] == agent {
			got[a["rule"].(string)]++
			total++
		}
	}
}

// decodeStream decodes the JSON messages grpcurl printed, one after another, up to the first
// text that is not JSON (an error report).
func decodeStream(t *testing.T, out string) []map[string]any {
	t.Helper()
	var msgs []map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var m map[string]any
		if dec.Decode(&m) != nil {
			return msgs
		}
		msgs = append(msgs, m)
	}
}

// seqOf returns the seq of a record grpcurl printed (an int64, which protobuf's JSON writes as
// a string).
func seqOf(t *testing.T, r any) int64 {
	t.Helper()
	s, _ := r.(map[string]any)["seq"].(string)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("record without seq: %v", r)
	}
	return n
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// testDocumentedCommands runs, one by one, the grpcurl commands clients/README.md shows for
// every RPC, with the admin token and a rules file my_rules.yaml, as a user would paste them.
// Subscriptions run until a timeout ends them; every other command must succeed.
func testDocumentedCommands(t *testing.T, l *lab, grpcurlBin string) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "<!-- grpcurl commands")
	if !ok {
		t.Fatal("README.md has no grpcurl commands block")
	}
	_, block, _ = strings.Cut(block, "```sh\n")
	block, _, _ = strings.Cut(block, "```")
	dir := t.TempDir()
	rules, err := os.ReadFile(l.spec.Rules.PushPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "my_rules.yaml"), rules, 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "PATH="+filepath.Dir(grpcurlBin)+":"+os.Getenv("PATH"),
		"HUB="+l.spec.Hub, "TOKEN="+l.spec.Tokens.Admin, "NODE="+l.spec.Node)
	rpcs := map[string]bool{}
	for _, line := range strings.Split(block, "\n") {
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "export ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if strings.Contains(f, "Service/") {
				rpcs[f] = true
			}
		}
		stream := strings.Contains(line, "/Subscribe")
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		if stream {
			ctx, cancel = context.WithTimeout(t.Context(), 3*time.Second)
		}
		cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", line)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		timedOut := ctx.Err() != nil
		cancel()
		switch {
		case strings.Contains(string(out), "ERROR"), stream && !timedOut, !stream && err != nil:
			t.Errorf("%s\n: %v\n%s", line, err, out)
		case stream && strings.Contains(line, "from_oldest") && !strings.Contains(string(out), `"processEvent"`):
			t.Errorf("%s\n: no records:\n%s", line, out)
		}
	}
	// Every RPC of the API is shown.
	for _, svc := range []string{"sysflux.hub.v1.HubService", "sysflux.policy.v1.PolicyService"} {
		out, err := exec.Command(grpcurlBin, "-plaintext", l.spec.Hub, "list", svc).Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range strings.Fields(string(out)) {
			i := strings.LastIndex(m, ".")
			if !rpcs[m[:i]+"/"+m[i+1:]] {
				t.Errorf("README.md shows no grpcurl command for %s", m)
			}
		}
	}
}
