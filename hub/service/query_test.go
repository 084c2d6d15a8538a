package service_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sysflux/sysflux/agent"
	"github.com/sysflux/sysflux/agent/replay"
	"github.com/sysflux/sysflux/agent/sfavro"
	"github.com/sysflux/sysflux/agent/spool"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	"github.com/sysflux/sysflux/gen/sysflux/hub/v1/hubv1connect"
	"github.com/sysflux/sysflux/hub"
	"github.com/sysflux/sysflux/hub/hubtest"
	"github.com/sysflux/sysflux/hub/store"
	"github.com/sysflux/sysflux/policy/defaults"
	"github.com/sysflux/sysflux/policy/engine"
	"github.com/sysflux/sysflux/policy/field"
)

const shellshockTrace = "../../../shared/fixtures/sysflow/traces/sfprocessor_shellshock.sf"

// storedTimes returns the time the store keeps each record of a trace at, computed from the
// trace alone: a record's own time, or for records without one (containers, headers) the time
// of the record before it, or for the first records the time of the first that has one.
func storedTimes(recs []*sysflowv1.Record) []int64 {
	out := make([]int64, len(recs))
	first := int64(0)
	for _, r := range recs {
		if hasTime(r) {
			first = field.Time(r)
			break
		}
	}
	last := first
	for i, r := range recs {
		if hasTime(r) {
			last = field.Time(r)
		}
		out[i] = last
	}
	return out
}

func hasTime(r *sysflowv1.Record) bool { return r.GetHeader() == nil && r.GetContainer() == nil }

// traceRecord is a record of a trace with where the store keeps it.
type traceRecord struct {
	node string
	seq  int64
	time int64
	rec  *sysflowv1.Record
}

// storedQuery returns what a query must return, computed over the traces without the hub:
// records in [start, end), of the nodes and types given (all when empty), whose events and flows
// match is true for; in time order.
func storedQuery(traces map[string][]*sysflowv1.Record, start, end int64, nodes []string, types []sysflowv1.RecordType, match func(node string, i int) bool) []traceRecord {
	var out []traceRecord
	for node, recs := range traces {
		if len(nodes) > 0 && !slices.Contains(nodes, node) {
			continue
		}
		times := storedTimes(recs)
		for i, r := range recs {
			if times[i] < start || times[i] >= end {
				continue
			}
			if len(types) > 0 && !slices.Contains(types, sfavro.TypeOf(r)) {
				continue
			}
			if match != nil && (isEntity(r) || !match(node, i)) {
				continue
			}
			out = append(out, traceRecord{node: node, seq: int64(i + 1), time: times[i], rec: r})
		}
	}
	slices.SortStableFunc(out, func(a, b traceRecord) int {
		if a.time != b.time {
			return compare(a.time, b.time)
		}
		if a.node != b.node {
			return strings.Compare(a.node, b.node)
		}
		return compare(a.seq, b.seq)
	})
	return out
}

func compare(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// queryAll pages through a query and returns every record and entity, checking each page.
func queryAll(t *testing.T, c hubv1connect.HubServiceClient, req *hubv1.QueryRequest) (recs, ents []*sysflowv1.Record, pages int) {
	t.Helper()
	for {
		resp, err := c.Query(context.Background(), connect.NewRequest(req))
		if err != nil {
			t.Fatalf("Query(%v): %v", req, err)
		}
		pages++
		if n := len(resp.Msg.GetRecords()); req.GetPageSize() > 0 && n > int(req.GetPageSize()) {
			t.Fatalf("page of %d records, page_size %d", n, req.GetPageSize())
		}
		recs = append(recs, resp.Msg.GetRecords()...)
		ents = append(ents, resp.Msg.GetEntities()...)
		// Each page brings the entities its records reference.
		have := map[[2]int64]bool{}
		for _, e := range resp.Msg.GetEntities() {
			if p := e.GetProcess(); p != nil {
				have[[2]int64{p.GetOid().GetHpid(), p.GetOid().GetCreateTs()}] = true
			}
		}
		for _, r := range resp.Msg.GetRecords() {
			if oid := field.ProcOID(r); oid != nil && !have[[2]int64{oid.GetHpid(), oid.GetCreateTs()}] {
				t.Fatalf("record %s/%d references process %v, not among the page's entities", r.GetNodeId(), r.GetSeq(), oid)
			}
		}
		if resp.Msg.GetNextPageToken() == "" {
			return recs, ents, pages
		}
		req.PageToken = resp.Msg.GetNextPageToken()
	}
}

// Query returns exactly what an independent scan of the stored traces selects, in time order,
// across pages: by time range, node, record type, and Falco or CEL filter.
func TestQuery(t *testing.T) {
	k8s, err := sfavro.ReadFile(k8sTrace)
	if err != nil {
		t.Fatal(err)
	}
	shock, err := sfavro.ReadFile(shellshockTrace)
	if err != nil {
		t.Fatal(err)
	}
	traces := map[string][]*sysflowv1.Record{"node-a": k8s, "node-b": shock}
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rules, err := engine.NewActive(defaults.Files()...)
	if err != nil {
		t.Fatal(err)
	}
	k8sCopy, _ := sfavro.ReadFile(k8sTrace)
	shockCopy, _ := sfavro.ReadFile(shellshockTrace)
	a := hubtest.StartAgent(t, agent.Config{Window: spool.Config{AgentID: "agent-a", NodeID: "node-a"}},
		replay.Records{Label: "k8s", Records: k8sCopy})
	b := hubtest.StartAgent(t, agent.Config{Window: spool.Config{AgentID: "agent-b", NodeID: "node-b"}},
		replay.Records{Label: "shellshock", Records: shockCopy})
	addr, _ := hubtest.StartHub(t, hub.Config{Agents: []string{a.Addr, b.Addr}, Rules: rules, Store: st})
	c := hubv1connect.NewHubServiceClient(http.DefaultClient, "http://"+addr)
	waitStored(t, c, map[string]int64{"agent-a": int64(len(k8s)), "agent-b": int64(len(shock))})

	// The thirds of node-a's records by time (a few records have far-off times).
	times := slices.Sorted(slices.Values(storedTimes(k8s)))
	lo, hi := times[len(times)/3], times[2*len(times)/3]
	newest := max(times[len(times)-1], slices.Max(storedTimes(shock)))
	ts := func(ns int64) *timestamppb.Timestamp { return timestamppb.New(time.Unix(0, ns)) }
	matcher := func(cond string, lang hubv1.FilterLanguage) func(node string, i int) bool {
		idx := map[string][]int{}
		for node, recs := range traces {
			idx[node] = scan(t, recs, 0, cond, lang)
			if hand := handScan(recs, 0, cond); !slices.Equal(idx[node], hand) {
				t.Fatalf("%s: the engine's scan finds %v, the hand-written one %v", node, idx[node], hand)
			}
		}
		return func(node string, i int) bool { _, ok := slices.BinarySearch(idx[node], i); return ok }
	}
	shellExec := matcher(falcoShellExec, hubv1.FilterLanguage_FILTER_LANGUAGE_FALCO)
	etcFlows := matcher(celEtcFlows, hubv1.FilterLanguage_FILTER_LANGUAGE_CEL)
	flowTypes := []sysflowv1.RecordType{sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW, sysflowv1.RecordType_RECORD_TYPE_PROCESS_EVENT}
	for _, tt := range []struct {
		name  string
		req   *hubv1.QueryRequest
		match func(string, int) bool
	}{
		{name: "everything, one page", req: &hubv1.QueryRequest{PageSize: 10000}},
		{name: "everything, pages of 333", req: &hubv1.QueryRequest{PageSize: 333}},
		{name: "middle third of node-a's file flows",
			req: &hubv1.QueryRequest{StartTime: ts(lo), EndTime: ts(hi), NodeIds: []string{"node-a"}, RecordTypes: flowTypes[:1], PageSize: 250},
		},
		{name: "falco filter, events only",
			req:   &hubv1.QueryRequest{Filter: falcoShellExec, RecordTypes: flowTypes, PageSize: 2},
			match: shellExec},
		{name: "falco filter, every type",
			req:   &hubv1.QueryRequest{Filter: falcoShellExec, PageSize: 500},
			match: shellExec},
		{name: "cel filter in a time range",
			req: &hubv1.QueryRequest{Filter: celEtcFlows, FilterLanguage: hubv1.FilterLanguage_FILTER_LANGUAGE_CEL, RecordTypes: flowTypes,
				StartTime: ts(lo), PageSize: 7},
			match: etcFlows},
		{name: "after the newest record", req: &hubv1.QueryRequest{StartTime: ts(newest + 1)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start, end := int64(math.MinInt64), int64(math.MaxInt64)
			if tt.req.GetStartTime() != nil {
				start = tt.req.GetStartTime().AsTime().UnixNano()
			}
			if tt.req.GetEndTime() != nil {
				end = tt.req.GetEndTime().AsTime().UnixNano()
			}
			want := storedQuery(traces, start, end, tt.req.GetNodeIds(), tt.req.GetRecordTypes(), tt.match)
			got, _, pages := queryAll(t, c, tt.req)
			t.Logf("%d records in %d pages", len(got), pages)
			if len(got) != len(want) {
				t.Fatalf("got %d records, want %d", len(got), len(want))
			}
			seen := map[string]bool{}
			for i, g := range got {
				w := want[i]
				if g.GetNodeId() != w.node || field.Time(g) != field.Time(w.rec) || sfavro.TypeOf(g) != sfavro.TypeOf(w.rec) {
					t.Fatalf("record %d: got %s/%d (%v at %d), want %s/%d (%v at %d)", i, g.GetNodeId(), g.GetSeq(), sfavro.TypeOf(g), field.Time(g),
						w.node, w.seq, sfavro.TypeOf(w.rec), field.Time(w.rec))
				}
				key := g.GetNodeId() + "/" + itoa(g.GetSeq())
				if seen[key] {
					t.Fatalf("record %s/%d returned twice", g.GetNodeId(), g.GetSeq())
				}
				seen[key] = true
			}
			// Records of the same time may come in either agent's order first; as sets they agree.
			gotKeys, wantKeys := make([]string, len(got)), make([]string, len(want))
			for i := range got {
				gotKeys[i] = got[i].GetNodeId() + "/" + itoa(got[i].GetSeq())
				wantKeys[i] = want[i].node + "/" + itoa(want[i].seq)
			}
			slices.Sort(gotKeys)
			slices.Sort(wantKeys)
			if !slices.Equal(gotKeys, wantKeys) {
				t.Fatal("the records returned are not the ones selected")
			}
		})
	}

	t.Run("bad filter", func(t *testing.T) {
		_, err := c.Query(context.Background(), connect.NewRequest(&hubv1.QueryRequest{Filter: "proc.name = bash and\n  fd.nme = x"}))
		var cerr *connect.Error
		if !errors.As(err, &cerr) || cerr.Code() != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "filter:2:") {
			t.Fatalf("Query with a bad filter: %v, want INVALID_ARGUMENT at filter:2:", err)
		}
	})
	t.Run("token of another query", func(t *testing.T) {
		resp, err := c.Query(context.Background(), connect.NewRequest(&hubv1.QueryRequest{PageSize: 10}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Query(context.Background(), connect.NewRequest(&hubv1.QueryRequest{PageSize: 10, NodeIds: []string{"node-a"}, PageToken: resp.Msg.GetNextPageToken()}))
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("Query with another query's token: %v, want INVALID_ARGUMENT", err)
		}
	})
	t.Run("provenance", func(t *testing.T) {
		// The process of the first shell exec of the shellshock trace, with its parent.
		var exec *sysflowv1.ProcessEvent
		for _, r := range shock {
			if pe := r.GetProcessEvent(); pe != nil && pe.GetOpFlags()&int32(sysflowv1.OperationFlag_OPERATION_FLAG_EXEC) != 0 {
				exec = pe
				break
			}
		}
		resp, err := c.GetProvenance(context.Background(), connect.NewRequest(&hubv1.GetProvenanceRequest{
			NodeId: "node-b", Pid: exec.GetProcOid().GetHpid(), CreateTs: exec.GetProcOid().GetCreateTs()}))
		if err != nil {
			t.Fatal(err)
		}
		p := resp.Msg.GetProcess().GetProcess()
		if p.GetOid().GetHpid() != exec.GetProcOid().GetHpid() {
			t.Fatalf("provenance of %v: process %v", exec.GetProcOid(), p.GetOid())
		}
		if len(resp.Msg.GetProcess().GetRecords()) == 0 {
			t.Fatal("the process has no records")
		}
		if p.GetPoid() != nil && (len(resp.Msg.GetAncestors()) == 0 || resp.Msg.GetAncestors()[0].GetProcess().GetOid().GetHpid() != p.GetPoid().GetHpid()) {
			t.Fatalf("ancestors %v, want the parent %v first", resp.Msg.GetAncestors(), p.GetPoid())
		}
		for _, pp := range append(append([]*hubv1.ProcessProvenance{resp.Msg.GetProcess()}, resp.Msg.GetAncestors()...), resp.Msg.GetChildren()...) {
			for _, r := range pp.GetRecords() {
				if oid := field.ProcOID(r); oid.GetHpid() != pp.GetProcess().GetOid().GetHpid() {
					t.Fatalf("record of %v listed under %v", oid, pp.GetProcess().GetOid())
				}
			}
		}
		t.Logf("process %s: %d ancestors, %d children, %d records", p.GetExe(), len(resp.Msg.GetAncestors()), len(resp.Msg.GetChildren()), len(resp.Msg.GetProcess().GetRecords()))
		if _, err := c.GetProvenance(context.Background(), connect.NewRequest(&hubv1.GetProvenanceRequest{Pid: 1})); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("GetProvenance without a node on a hub of two nodes: %v, want INVALID_ARGUMENT", err)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// waitStored waits until the hub has stored every record of each agent.
func waitStored(t *testing.T, c hubv1connect.HubServiceClient, totals map[string]int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.ListAgents(context.Background(), connect.NewRequest(&hubv1.ListAgentsRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, a := range resp.Msg.GetAgents() {
			if total, ok := totals[a.GetAgentId()]; ok && a.GetLastPosition().GetSeq() == total {
				n++
			}
		}
		if n == len(totals) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hub did not store everything: %v", resp.Msg.GetAgents())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
