package main

import (
	"context"
	"errors"
	"fmt"

	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/sysflux/sysflux/agent/sfavro"
	"github.com/sysflux/sysflux/bpf/bpftest"
	"github.com/sysflux/sysflux/clients/go/sysflux"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	"github.com/sysflux/sysflux/internal/proctest"
)

// traces is where the SysFlow fixture traces are.
const traces = "../../../shared/fixtures/sysflow/traces"

// binary is the sysflux binary built for the tests.
var binary string

func TestMain(m *testing.M) {
	var dir string
	var err error
	if binary, dir, err = proctest.Build("."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a sysflux process started by a test.
type proc = proctest.Proc

// start runs sysflux with args and JSON logs; the process is killed when the test ends.
func start(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	return proctest.Start(t, name, append([]string{binary}, args...)...)
}

// startArgv runs argv (a sysflux command, possibly behind a wrapper such as ip netns exec) with
// JSON logs, as start does; the process is killed when the test ends.
func startArgv(t *testing.T, name string, argv ...string) *proc {
	t.Helper()
	return proctest.Start(t, name, argv...)
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// payload returns rec without its envelope, for comparing with the trace it came from.
func payload(rec *sysflowv1.Record) *sysflowv1.Record {
	c := proto.CloneOf(rec)
	c.NodeId, c.AgentId, c.Epoch, c.Seq = "", "", 0, 0
	return c
}

// readTraces decodes trace files, in order, into one sequence.
func readTraces(t *testing.T, names ...string) []*sysflowv1.Record {
	t.Helper()
	var out []*sysflowv1.Record
	for _, n := range names {
		recs, err := sfavro.ReadFile(filepath.Join(traces, n))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, recs...)
	}
	return out
}

// collector gathers one subscriber's records per agent.
type collector struct {
	mu      sync.Mutex
	byAgent map[string][]*sysflowv1.Record
	total   int
}

func (c *collector) add(rec *sysflowv1.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byAgent[rec.GetAgentId()] = append(c.byAgent[rec.GetAgentId()], rec)
	c.total++
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// TestTwoAgentsHubKilled runs two agents replaying different traces, one hub and two
// subscribers as real processes on loopback, kills the hub twice mid-stream, and checks that
// each subscriber receives every record of both traces exactly once, in per-agent order.
func TestTwoAgentsHubKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with processes")
	}
	aTraces := []string{"sfprocessor_k8s_small.sf"}
	bTraces := []string{
		"sfcollector_client-server_tcp-client-server.sf", "sfcollector_files_files.sf",
		"sfcollector_rename_rename.sf", "sfcollector_setuid_setuid.sf",
		"sfprocessor_shellshock.sf", "sfprocessor_tcp.sf",
	}
	want := map[string][]*sysflowv1.Record{"agent-a": readTraces(t, aTraces...), "agent-b": readTraces(t, bTraces...)}
	total := len(want["agent-a"]) + len(want["agent-b"])

	// Pace both agents so their traces span about three seconds.
	agentArgs := func(id string, names []string) []string {
		args := []string{"agent", "--listen", "127.0.0.1:0", "--agent-id", id, "--node", "node-" + id[len(id)-1:],
			"--replay-rate", fmt.Sprint(len(want[id]) / 3)}
		for _, n := range names {
			args = append(args, "--replay", filepath.Join(traces, n))
		}
		return args
	}
	a := start(t, "agent-a", agentArgs("agent-a", aTraces)...)
	b := start(t, "agent-b", agentArgs("agent-b", bTraces)...)
	aAddr, bAddr := a.WaitAddr(t), b.WaitAddr(t)

	hubAddr := freeAddr(t)
	startHub := func() *proc {
		h := start(t, "hub", "hub", "--listen", hubAddr, "--agent", aAddr, "--agent", bAddr)
		h.WaitAddr(t)
		return h
	}
	hub := startHub()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	subs := make([]*collector, 2)
	errs := make(chan error, len(subs))
	stats := make([]*sysflux.Subscription, len(subs))
	for i := range subs {
		c, err := sysflux.Dial(ctx, hubAddr, sysflux.WithBackoff(50*time.Millisecond, 500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		col := &collector{byAgent: make(map[string][]*sysflowv1.Record)}
		subs[i] = col
		sub := c.Subscribe(ctx, &hubv1.SubscribeRequest{FromOldest: true})
		stats[i] = sub
		go func() {
			defer sub.Close()
			for sub.Next() {
				col.add(sub.Record())
				if col.count() == total {
					errs <- nil
					return
				}
			}
			errs <- sub.Err()
		}()
	}

	// Kill the hub at a third and at two thirds of the way, and start it again on the same port.
	for _, frac := range []int{1, 2} {
		for subs[0].count() < total*frac/3 || subs[1].count() < total*frac/3 {
			if ctx.Err() != nil {
				t.Fatalf("timed out before the kill at %d/3: got %d and %d of %d", frac, subs[0].count(), subs[1].count(), total)
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Logf("SIGKILL hub with %d and %d of %d records delivered", subs[0].count(), subs[1].count(), total)
		hub.Kill()
		time.Sleep(200 * time.Millisecond)
		hub = startHub()
	}
	for range subs {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatalf("subscriber: %v", err)
			}
		case <-ctx.Done():
			t.Fatalf("timed out: subscribers have %d and %d of %d records", subs[0].count(), subs[1].count(), total)
		}
	}

	for i, col := range subs {
		if got := stats[i].Reconnects(); got < 2 {
			t.Errorf("subscriber %d reconnected %d times, want at least 2 (one per hub kill)", i, got)
		}
		if got := stats[i].Duplicates(); got != 0 {
			t.Errorf("subscriber %d dropped %d duplicates the hub sent, want 0", i, got)
		}
		if got := stats[i].Lost(); got != 0 {
			t.Errorf("subscriber %d was told of %d lost records, want 0", i, got)
		}
		for id, w := range want {
			got := col.byAgent[id]
			if len(got) != len(w) {
				t.Errorf("subscriber %d: agent %s: got %d records, want %d", i, id, len(got), len(w))
				continue
			}
			for j, rec := range got {
				if rec.GetSeq() != int64(j+1) {
					t.Fatalf("subscriber %d: agent %s: record %d has seq %d, want %d (order or duplicate)", i, id, j, rec.GetSeq(), j+1)
				}
				if !proto.Equal(payload(rec), w[j]) {
					t.Fatalf("subscriber %d: agent %s: record %d differs from the trace:\ngot  %v\nwant %v", i, id, j, payload(rec), w[j])
				}
			}
		}
	}
}

// run runs sysflux to completion and returns its exit code and output.
func run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("run sysflux %v: %v", args, err)
	return 0, ""
}

// TestExitCodes checks that bad usage, unreadable files and unreachable peers end the process
// with the documented exit code and a message naming the problem.
func TestExitCodes(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.sf")
	notAvro := filepath.Join(t.TempDir(), "not-avro.sf")
	if err := os.WriteFile(notAvro, []byte("this is not a SysFlow file"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantMsg  string
	}{
		{"unknown flag", []string{"hub", "--bogus"}, exitUsage, "unknown flag: --bogus"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "unknown command"},
		{"hub without agents", []string{"hub"}, exitUsage, "no agent"},
		{"bad agent address", []string{"hub", "--agent", "nohostport"}, exitUsage, `"nohostport" is not host:port`},
		{"bad sidekick url", []string{"hub", "--agent", "127.0.0.1:1", "--sidekick-url", "ftp://x"}, exitUsage, `--sidekick-url: "ftp://x" is not an http(s) URL`},
		{"missing replay file", []string{"agent", "--replay", missing}, exitUsage, "missing.sf: no such file or directory"},
		{"replay file not avro", []string{"agent", "--replay", notAvro}, exitUsage, "not-avro.sf"},
		{"bad listen address", []string{"agent", "--listen", "nowhere", "--replay", filepath.Join(traces, "sfprocessor_tcp.sf")}, exitUsage, `--listen: "nowhere" is not host:port`},
		{"bad log level", []string{"tail", "--log-level", "loud"}, exitUsage, "--log-level"},
		{"bad record type", []string{"tail", "--type", "teapot"}, exitUsage, `unknown record type "teapot"`},
		{"unreachable hub", []string{"tail", "--hub", freeAddr(t), "--connect-timeout", "2s"}, exitUnreachable, "is not reachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := run(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantMsg) {
				t.Errorf("sysflux %v: exit %d, output %q; want exit %d and output containing %q", tt.args, code, out, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

// TestUpAndTail runs `sysflux up` on a trace and reads it back with `sysflux tail`, in both
// output formats.
func TestUpAndTail(t *testing.T) {
	trace := filepath.Join(traces, "sfprocessor_tcp.sf")
	want := readTraces(t, "sfprocessor_tcp.sf")
	hubAddr := freeAddr(t)
	up := start(t, "up", "up", "--listen", hubAddr, "--agent-listen", "127.0.0.1:0", "--replay", trace)
	up.WaitAddr(t)

	code, out := run(t, "tail", "--hub", hubAddr, "--from-oldest", "--json", "--count", fmt.Sprint(len(want)))
	if code != 0 {
		t.Fatalf("tail --json: exit %d: %s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want) {
		t.Fatalf("tail --json printed %d lines, want %d", len(lines), len(want))
	}
	for i, line := range lines {
		var rec sysflowv1.Record
		if err := protojsonUnmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, line)
		}
		if !proto.Equal(payload(&rec), want[i]) {
			t.Fatalf("line %d differs from the trace:\ngot  %v\nwant %v", i+1, payload(&rec), want[i])
		}
	}

	code, out = run(t, "tail", "--hub", hubAddr, "--from-oldest", "--type", "network_flow", "--count", "2")
	if code != 0 {
		t.Fatalf("tail: exit %d: %s", code, out)
	}
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if len(rows) != 3 || !strings.HasPrefix(rows[0], "TIME") || !strings.Contains(rows[1], "network_flow") {
		t.Errorf("tail table:\n%s\nwant a header and two network_flow rows", out)
	}
}

func protojsonUnmarshal(b []byte, m proto.Message) error {
	return protojson.Unmarshal(b, m)
}

// TestGRPCurl calls both servers with grpcurl, built at the version pinned in tools.mod, the way
// the README shows: listing services by reflection, checking health and calling the RPCs.
func TestGRPCurl(t *testing.T) {
	if testing.Short() {
		t.Skip("builds grpcurl")
	}
	grpcurl := filepath.Join(t.TempDir(), "grpcurl")
	build := exec.Command("go", "build", "-modfile=../../tools.mod", "-o", grpcurl, "github.com/fullstorydev/grpcurl/cmd/grpcurl")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build grpcurl: %v\n%s", err, out)
	}
	want := readTraces(t, "sfprocessor_tcp.sf")
	hubAddr, agentAddr := freeAddr(t), freeAddr(t)
	up := start(t, "up", "up", "--listen", hubAddr, "--agent-listen", agentAddr,
		"--replay", filepath.Join(traces, "sfprocessor_tcp.sf"))
	up.WaitAddr(t)

	call := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(grpcurl, append([]string{"-plaintext"}, args...)...).CombinedOutput()
		if err != nil && !strings.Contains(string(out), "DeadlineExceeded") {
			t.Fatalf("grpcurl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"hub services", []string{hubAddr, "list"}, []string{"sysflux.hub.v1.HubService", "grpc.health.v1.Health"}},
		{"agent services", []string{agentAddr, "list"}, []string{"sysflux.agent.v1.AgentService", "grpc.health.v1.Health"}},
		{"hub health", []string{hubAddr, "grpc.health.v1.Health/Check"}, []string{`"SERVING"`}},
		{"agent health", []string{agentAddr, "grpc.health.v1.Health/Check"}, []string{`"SERVING"`}},
		{"describe", []string{hubAddr, "describe", "sysflux.hub.v1.SubscribeRequest"}, []string{"repeated .sysflow.v1.RecordType record_types"}},
		{"list agents", []string{hubAddr, "sysflux.hub.v1.HubService/ListAgents"}, []string{`"connected": true`, fmt.Sprintf(`"receivedRecords": "%d"`, len(want))}},
		{"subscribe", []string{"-max-time", "2", "-d", `{"from_oldest": true, "record_types": ["RECORD_TYPE_NETWORK_FLOW"]}`,
			hubAddr, "sysflux.hub.v1.HubService/Subscribe"}, []string{`"networkFlow"`, `"batch"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out string
			for range 50 { // the hub may still be reading the agent
				if out = call(tt.args...); containsAll(out, tt.want) {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
			t.Errorf("grpcurl %v:\n%s\nwant it to contain %q", tt.args, out, tt.want)
		})
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// TestUpLive runs `sysflux up` capturing this node and finds, through `sysflux tail`, the file
// flow of a file the test writes.
func TestUpLive(t *testing.T) {
	bpftest.Require(t)
	hubAddr := freeAddr(t)
	up := start(t, "up", "up", "--listen", hubAddr, "--agent-listen", "127.0.0.1:0")
	up.WaitAddr(t)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(up.Log(), "capture started") {
		if time.Now().After(deadline) {
			t.Fatalf("capture did not start:\n%s", up.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	path := filepath.Join(t.TempDir(), "written-by-dd")
	// dd writes 3 blocks of 512 bytes in 3 writes.
	if out, err := exec.Command("dd", "if=/dev/zero", "of="+path, "bs=512", "count=3").CombinedOutput(); err != nil {
		t.Fatalf("dd: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := sysflux.Dial(ctx, hubAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sub := c.Subscribe(ctx, &hubv1.SubscribeRequest{FromOldest: true, RecordTypes: []sysflowv1.RecordType{
		sysflowv1.RecordType_RECORD_TYPE_FILE, sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW}})
	defer sub.Close()
	// dd opens the file, dup2s it onto its standard output, closes the original and writes to
	// 1: two flows on the file, the writes on the second.
	var (
		oid           []byte
		flows         []*sysflowv1.FileFlow
		writes, bytes int64
	)
	for writes < 3 && sub.Next() {
		switch r := sub.Record().GetRec().(type) {
		case *sysflowv1.Record_File:
			if r.File.GetPath() == path {
				oid = r.File.GetOid()
			}
		case *sysflowv1.Record_FileFlow:
			if f := r.FileFlow; oid != nil && string(f.GetFileOid()) == string(oid) {
				flows = append(flows, f)
				writes, bytes = writes+f.GetNumWSendOps(), bytes+f.GetNumWSendBytes()
			}
		}
	}
	if writes != 3 || bytes != 1536 {
		t.Fatalf("dd's file flows %v: %d writes of %d bytes, want 3 of 1536 (%v)", flows, writes, bytes, sub.Err())
	}
	if fd := flows[len(flows)-1].GetFd(); fd != 1 {
		t.Errorf("dd wrote through fd %d, want 1 (its standard output)", fd)
	}
}
