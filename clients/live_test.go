// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// Package clients_test runs every API client of sysflux (Go, Python, TypeScript, and grpcurl)
// against one real hub: the sysflux binary, with a store, a tokens file and rules, fed by agents
// replaying a real SysFlow trace. The expected answers are worked out from the trace itself, not
// asked of the hub, and handed to each client's own test suite in a JSON file named by
// SYSFLUX_CLIENT_SPEC.
//
// For working on a client, SYSFLUX_CLIENTS_HOLD=FILE starts the hub, writes the spec to FILE
// and holds everything until the test is interrupted:
//
//	SYSFLUX_CLIENTS_HOLD=/tmp/spec.json go test ./clients -run 'TestClients$' -timeout 0 -v
//	SYSFLUX_CLIENT_SPEC=/tmp/spec.json /usr/bin/python3 -m unittest discover -s clients/python/tests -t clients/python
package clients_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sysflux/sysflux/agent/sfavro"
	"github.com/sysflux/sysflux/clients/go/sysflux"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/internal/proctest"
)

// trace is the SysFlow trace the agents replay: a Kubernetes node, 6,173 records.
const trace = "../../shared/fixtures/sysflow/traces/sfprocessor_k8s_small.sf"

// replaySlots is how many agents the hub dials besides the first, each started by a request to
// the replay endpoint; a held hub gets more, for repeated runs of a client's tests.
const (
	replaySlots     = 20
	heldReplaySlots = 200
)

// binary is the sysflux binary built for the tests.
var binary string

func TestMain(m *testing.M) {
	var dir string
	var err error
	if binary, dir, err = proctest.Build("../cmd/sysflux"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Spec is what every client's live tests read from SYSFLUX_CLIENT_SPEC: where the hub is and
// what it must answer. The clients' READMEs describe the assertions made with it.
type Spec struct {
	Hub           string        `json:"hub"`
	HubURL        string        `json:"hub_url"`
	Tokens        SpecTokens    `json:"tokens"`
	Unreachable   string        `json:"unreachable"`
	Node          string        `json:"node"`
	AgentID       string        `json:"agent_id"`
	Records       int           `json:"records"`
	Subscribe     SpecSubscribe `json:"subscribe"`
	Query         SpecQuery     `json:"query"`
	BadFilter     SpecBadFilter `json:"bad_filter"`
	Rules         SpecRules     `json:"rules"`
	ReplayURL     string        `json:"replay_url"`
	BrowserOrigin string        `json:"browser_origin"`
}

// SpecTokens are bearer tokens of the hub's tokens file.
type SpecTokens struct {
	Read  string `json:"read"`
	Admin string `json:"admin"`
}

// SpecSubscribe is a subscription from the oldest record and the records it must deliver.
type SpecSubscribe struct {
	Filter       string   `json:"filter"`
	RecordTypes  []string `json:"record_types"`
	NodeIDs      []string `json:"node_ids"`
	ExpectedSeqs []int64  `json:"expected_seqs"`
}

// SpecQuery is a query over a time range [StartTime, EndTime) and the records it must return.
type SpecQuery struct {
	StartTime    time.Time `json:"start_time"`
	EndTime      time.Time `json:"end_time"`
	RecordTypes  []string  `json:"record_types"`
	NodeIDs      []string  `json:"node_ids"`
	PageSize     int32     `json:"page_size"`
	ExpectedSeqs []int64   `json:"expected_seqs"`
	MinPages     int       `json:"min_pages"`
}

// SpecBadFilter is a filter the hub must refuse, and where and why.
type SpecBadFilter struct {
	Filter  string `json:"filter"`
	Line    int32  `json:"line"`
	Column  int32  `json:"column"`
	Message string `json:"message"`
}

// SpecRules are the rules the hub starts with and the rules files the clients push.
type SpecRules struct {
	BaseRule   string `json:"base_rule"`
	BaseAlerts int    `json:"base_alerts"`
	PushPath   string `json:"push_path"`
	PushRule   string `json:"push_rule"`
	PushAlerts int    `json:"push_alerts"`
	BadPath    string `json:"bad_path"`
	BadLine    int32  `json:"bad_line"`
}

// ReplayResult is the replay endpoint's answer: the agent it started, once the hub has all its
// records.
type ReplayResult struct {
	AgentID string `json:"agent_id"`
	NodeID  string `json:"node_id"`
	Records int    `json:"records"`
}

// eventAndFlowTypes are the record types that are events or flows, which filters select.
var eventAndFlowTypes = []sysflowv1.RecordType{
	sysflowv1.RecordType_RECORD_TYPE_PROCESS_EVENT,
	sysflowv1.RecordType_RECORD_TYPE_NETWORK_FLOW,
	sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW,
	sysflowv1.RecordType_RECORD_TYPE_FILE_EVENT,
	sysflowv1.RecordType_RECORD_TYPE_NETWORK_EVENT,
	sysflowv1.RecordType_RECORD_TYPE_PROCESS_FLOW,
}

// TestClients starts the hub and runs each client's live tests against it, one after another.
func TestClients(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a hub and agents, and every client")
	}
	hold := os.Getenv("SYSFLUX_CLIENTS_HOLD")
	slots := replaySlots
	if hold != "" {
		slots = heldReplaySlots
	}
	lab := startLab(t, slots)

	if hold != "" {
		if err := os.WriteFile(hold, lab.specJSON, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Logf("hub at %s; spec written to %s; holding until interrupted", lab.spec.Hub, hold)
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		<-ctx.Done()
		return
	}
	t.Run("go", func(t *testing.T) { testGo(t, lab) })
	t.Run("grpcurl", func(t *testing.T) { testGRPCurl(t, lab) })
	t.Run("python", func(t *testing.T) { testPython(t, lab) })
	t.Run("typescript", func(t *testing.T) { testTypeScript(t, lab) })
}

// lab is a running hub with its agents, and the spec of what it must answer.
type lab struct {
	oracle   *oracle
	spec     Spec
	specJSON []byte
	specPath string
	dir      string
}

// startLab starts the hub, its first agent and the replay endpoint, works out the expected
// answers from the trace, and waits until the hub has stored the whole trace.
func startLab(t *testing.T, slots int) *lab {
	t.Helper()
	dir := t.TempDir()
	l := &lab{dir: dir}
	spec := &l.spec
	oracle := readOracle(t, trace)
	l.oracle = oracle

	// Tokens: the file holds their SHA-256 only.
	spec.Tokens = SpecTokens{Read: randomToken(t), Admin: randomToken(t)}
	tokens := fmt.Sprintf("tokens:\n  - name: clients-read\n    sha256: %s\n    scopes: [read]\n  - name: clients-admin\n    sha256: %s\n    scopes: [read, admin]\n",
		digest(spec.Tokens.Read), digest(spec.Tokens.Admin))
	tokensPath := filepath.Join(dir, "tokens.yaml")
	if err := os.WriteFile(tokensPath, []byte(tokens), 0o600); err != nil {
		t.Fatal(err)
	}
	rulesDir, err := filepath.Abs("testdata/rules")
	if err != nil {
		t.Fatal(err)
	}

	addrs := freeAddrs(t, slots+4)
	baseAgent, hubAddr, pageAddr, unreachable, slotAddrs := addrs[0], addrs[1], addrs[2], addrs[3], addrs[4:]
	spec.Hub, spec.HubURL, spec.Unreachable = hubAddr, "http://"+hubAddr, unreachable
	spec.BrowserOrigin = "http://" + pageAddr
	spec.Node, spec.AgentID, spec.Records = "base", "base", len(oracle.records)

	start(t, "agent base", "agent", "--listen", baseAgent, "--replay", trace, "--node", "base", "--agent-id", "base", "--metrics-listen", "")
	args := []string{"hub", "--listen", hubAddr, "--agent", baseAgent, "--data", filepath.Join(dir, "store"),
		"--rules", filepath.Join(rulesDir, "base.yaml"), "--tokens", tokensPath,
		"--cors-origin", spec.BrowserOrigin, "--metrics-listen", ""}
	for _, a := range slotAddrs {
		args = append(args, "--agent", a)
	}
	h := start(t, "hub", args...)
	h.WaitAddr(t)

	ctx := t.Context()
	c, err := sysflux.Dial(ctx, hubAddr, sysflux.WithToken(spec.Tokens.Admin))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	waitReceived(t, c, "base", len(oracle.records))

	// What the clients must find.
	names := typeNames(eventAndFlowTypes)
	spec.Subscribe = SpecSubscribe{
		Filter: "evt.type = execve and proc.name = iptables", RecordTypes: names, NodeIDs: []string{"base"},
		ExpectedSeqs: oracle.execs("iptables"),
	}
	spec.Query = oracle.queryRange(names, 200)
	spec.BadFilter = SpecBadFilter{Filter: "proc.name = sh and proc.nam = x", Line: 1, Column: 20, Message: "unknown field proc.nam"}
	spec.Rules = SpecRules{
		BaseRule: "Shell spawned", BaseAlerts: len(oracle.execs("sh")),
		PushPath: filepath.Join(rulesDir, "iptables.yaml"), PushRule: "Iptables run", PushAlerts: len(oracle.execs("iptables")),
		BadPath: filepath.Join(rulesDir, "broken.yaml"), BadLine: 2,
	}
	spec.ReplayURL = serveReplays(t, c, slotAddrs, len(oracle.records))

	if l.specJSON, err = json.MarshalIndent(spec, "", "  "); err != nil {
		t.Fatal(err)
	}
	l.specPath = filepath.Join(dir, "spec.json")
	if err := os.WriteFile(l.specPath, l.specJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	return l
}

// oracle is what the trace holds, read without the hub.
type oracle struct {
	records []*sysflowv1.Record
	// exe is, for each record, the executable of the process an event or flow belongs to: the
	// closest preceding Process record with its id, as SysFlow resolves references.
	exe []string
}

func readOracle(t *testing.T, name string) *oracle {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := sfavro.NewReader(bufio.NewReader(f))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	o := &oracle{}
	procs := map[[2]int64]string{}
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var exe string
		if p := rec.GetProcess(); p != nil {
			procs[[2]int64{p.GetOid().GetCreateTs(), p.GetOid().GetHpid()}] = p.GetExe()
		} else if pe := rec.GetProcessEvent(); pe != nil {
			exe = procs[[2]int64{pe.GetProcOid().GetCreateTs(), pe.GetProcOid().GetHpid()}]
		}
		o.records = append(o.records, rec)
		o.exe = append(o.exe, exe)
	}
	return o
}

// execs returns the sequence numbers (positions in the trace, from 1) of the process events
// that executed a program named name.
func (o *oracle) execs(name string) []int64 {
	var seqs []int64
	for i, rec := range o.records {
		pe := rec.GetProcessEvent()
		if pe != nil && pe.GetOpFlags()&int32(sysflowv1.OperationFlag_OPERATION_FLAG_EXEC) != 0 && path.Base(o.exe[i]) == name {
			seqs = append(seqs, int64(i+1))
		}
	}
	return seqs
}

// queryRange picks a time range holding about 700 events and flows, a third of the way into
// the trace, and returns the query over it with the records it must return.
func (o *oracle) queryRange(types []string, pageSize int32) SpecQuery {
	type rt struct {
		ts  int64
		seq int64
	}
	var all []rt
	for i, rec := range o.records {
		if slices.Contains(eventAndFlowTypes, recordType(rec)) {
			all = append(all, rt{sysflux.Time(rec), int64(i + 1)})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].ts < all[j].ts })
	start, end := all[len(all)/3].ts, all[len(all)/3+700].ts
	q := SpecQuery{
		StartTime: time.Unix(0, start).UTC(), EndTime: time.Unix(0, end).UTC(),
		RecordTypes: types, NodeIDs: []string{"base"}, PageSize: pageSize,
	}
	for _, r := range all {
		if r.ts >= start && r.ts < end {
			q.ExpectedSeqs = append(q.ExpectedSeqs, r.seq)
		}
	}
	q.MinPages = int(math.Ceil(float64(len(q.ExpectedSeqs)) / float64(pageSize)))
	return q
}

// recordType returns the type of a record's payload.
func recordType(rec *sysflowv1.Record) sysflowv1.RecordType {
	t, _ := sysflux.ParseRecordType(sysflux.TypeName(rec))
	return t
}

func typeNames(types []sysflowv1.RecordType) []string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = t.String()
	}
	return names
}

// serveReplays serves the replay endpoint: each POST starts the next agent of slots replaying
// the trace, and answers once the hub has received all its records.
func serveReplays(t *testing.T, c *sysflux.Client, slots []string, records int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	next := 0
	mux := http.NewServeMux()
	mux.HandleFunc("POST /replay", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if next == len(slots) {
			http.Error(w, fmt.Sprintf("all %d replay agents are used", len(slots)), http.StatusServiceUnavailable)
			return
		}
		id := fmt.Sprintf("replay-%d", next+1)
		addr := slots[next]
		next++
		start(t, "agent "+id, "agent", "--listen", addr, "--replay", trace, "--node", id, "--agent-id", id, "--metrics-listen", "")
		if err := waitReceivedErr(r.Context(), c, id, records); err != nil {
			http.Error(w, err.Error(), http.StatusGatewayTimeout)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(ReplayResult{AgentID: id, NodeID: id, Records: records})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/replay"
}

// waitReceived waits until the hub has received n records from the agent id.
func waitReceived(t *testing.T, c *sysflux.Client, id string, n int) {
	t.Helper()
	if err := waitReceivedErr(t.Context(), c, id, n); err != nil {
		t.Fatal(err)
	}
}

func waitReceivedErr(ctx context.Context, c *sysflux.Client, id string, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var got int64
	for {
		agents, err := c.ListAgents(ctx)
		if err == nil {
			for _, a := range agents {
				if a.GetAgentId() == id {
					got = a.GetReceivedRecords()
				}
			}
			if got == int64(n) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the hub received %d of agent %s's %d records: %v (last error: %v)", got, id, n, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// replay asks the replay endpoint for a new agent.
func (l *lab) replay(t *testing.T) ReplayResult {
	t.Helper()
	resp, err := http.Post(l.spec.ReplayURL, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("replay: %s: %s", resp.Status, body)
	}
	var r ReplayResult
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("replay: %v: %s", err, body)
	}
	return r
}

func randomToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func digest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// freeAddrs returns n different loopback addresses with ports that were free a moment ago.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close() // only once all are taken, so that none comes twice
		addrs[i] = ln.Addr().String()
	}
	return addrs
}

// start runs sysflux with args; the process is killed when the test ends.
func start(t *testing.T, name string, args ...string) *proctest.Proc {
	t.Helper()
	return proctest.Start(t, name, append([]string{binary}, args...)...)
}
