package sysflux_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/sysflux/sysflux/agent"
	"github.com/sysflux/sysflux/agent/replay"
	"github.com/sysflux/sysflux/agent/sfavro"
	"github.com/sysflux/sysflux/agent/spool"
	"github.com/sysflux/sysflux/clients/go/sysflux"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	"github.com/sysflux/sysflux/hub"
	"github.com/sysflux/sysflux/hub/hubtest"
)

const traces = "../../../../shared/fixtures/sysflow/traces"

// fixture is a hub reading two agents that replay different traces.
type fixture struct {
	hubAddr string
	records map[string][]*sysflowv1.Record // per agent id, in order
	nodes   map[string]string              // agent id -> node id
}

func startFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		records: make(map[string][]*sysflowv1.Record),
		nodes:   map[string]string{"agent-1": "node-1", "agent-2": "node-2"},
	}
	files := map[string][]string{
		"agent-1": {"sfprocessor_k8s_small.sf"},
		"agent-2": {"sfprocessor_tcp.sf", "sfcollector_client-server_tcp-client-server.sf", "sfcollector_files_files.sf"},
	}
	var addrs []string
	for _, id := range []string{"agent-1", "agent-2"} {
		var srcs []agent.Source
		for _, name := range files[id] {
			path := filepath.Join(traces, name)
			recs, err := sfavro.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f.records[id] = append(f.records[id], recs...)
			srcs = append(srcs, replay.File{Path: path})
		}
		a := hubtest.StartAgent(t, agent.Config{Window: spool.Config{AgentID: id, NodeID: f.nodes[id]}}, srcs...)
		addrs = append(addrs, a.Addr)
	}
	f.hubAddr, _ = hubtest.StartHub(t, hub.Config{Agents: addrs})
	return f
}

// collect reads n records from a subscription, then checks that no further record arrives.
func collect(t *testing.T, c *sysflux.Client, req *hubv1.SubscribeRequest, n int) []*sysflowv1.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub := c.Subscribe(ctx, req)
	defer sub.Close()
	var got []*sysflowv1.Record
	for len(got) < n && sub.Next() {
		got = append(got, sub.Record())
	}
	if len(got) < n {
		t.Fatalf("Subscribe(%v): got %d records, want %d: %v", req, len(got), n, sub.Err())
	}
	// Nothing more may match: wait for two heartbeats' worth of silence.
	extra := make(chan *sysflowv1.Record, 1)
	go func() {
		if sub.Next() {
			extra <- sub.Record()
		}
		close(extra)
	}()
	select {
	case r, ok := <-extra:
		if ok {
			t.Fatalf("Subscribe(%v): got a record beyond the %d expected: %v", req, n, r)
		}
	case <-time.After(500 * time.Millisecond):
	}
	return got
}

func TestSubscribeOverGRPC(t *testing.T) {
	f := startFixture(t)
	c, err := sysflux.Dial(context.Background(), f.hubAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	hb := durationpb.New(100 * time.Millisecond)
	tests := []struct {
		name string
		req  *hubv1.SubscribeRequest
		keep func(agentID string, rec *sysflowv1.Record) bool
	}{
		{
			name: "everything",
			req:  &hubv1.SubscribeRequest{FromOldest: true, HeartbeatInterval: hb},
			keep: func(string, *sysflowv1.Record) bool { return true },
		},
		{
			name: "file flows of node-1",
			req: &hubv1.SubscribeRequest{FromOldest: true, HeartbeatInterval: hb,
				RecordTypes: []sysflowv1.RecordType{sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW}, NodeIds: []string{"node-1"}},
			keep: func(id string, r *sysflowv1.Record) bool { return id == "agent-1" && r.GetFileFlow() != nil },
		},
		{
			name: "processes and network flows",
			req: &hubv1.SubscribeRequest{FromOldest: true, HeartbeatInterval: hb,
				RecordTypes: []sysflowv1.RecordType{sysflowv1.RecordType_RECORD_TYPE_PROCESS, sysflowv1.RecordType_RECORD_TYPE_NETWORK_FLOW}},
			keep: func(_ string, r *sysflowv1.Record) bool { return r.GetProcess() != nil || r.GetNetworkFlow() != nil },
		},
		{
			name: "connect or accept",
			req: &hubv1.SubscribeRequest{FromOldest: true, HeartbeatInterval: hb,
				OpFlags: int32(sysflowv1.OperationFlag_OPERATION_FLAG_CONNECT | sysflowv1.OperationFlag_OPERATION_FLAG_ACCEPT)},
			keep: func(_ string, r *sysflowv1.Record) bool {
				mask := int32(sysflowv1.OperationFlag_OPERATION_FLAG_CONNECT | sysflowv1.OperationFlag_OPERATION_FLAG_ACCEPT)
				switch p := r.GetRec().(type) {
				case *sysflowv1.Record_NetworkFlow:
					return p.NetworkFlow.GetOpFlags()&mask != 0
				case *sysflowv1.Record_FileFlow:
					return p.FileFlow.GetOpFlags()&mask != 0
				case *sysflowv1.Record_ProcessEvent:
					return p.ProcessEvent.GetOpFlags()&mask != 0
				case *sysflowv1.Record_FileEvent:
					return p.FileEvent.GetOpFlags()&mask != 0
				case *sysflowv1.Record_NetworkEvent:
					return p.NetworkEvent.GetOpFlags()&mask != 0
				case *sysflowv1.Record_ProcessFlow:
					return p.ProcessFlow.GetOpFlags()&mask != 0
				}
				return false
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := make(map[string][]*sysflowv1.Record)
			n := 0
			for id, recs := range f.records {
				for _, r := range recs {
					if tt.keep(id, r) {
						want[id] = append(want[id], r)
						n++
					}
				}
			}
			if n == 0 {
				t.Fatal("the filter matches no fixture record; the test would prove nothing")
			}
			got := make(map[string][]*sysflowv1.Record)
			for _, r := range collect(t, c, tt.req, n) {
				if r.GetNodeId() != f.nodes[r.GetAgentId()] {
					t.Fatalf("record of agent %s has node %q, want %q", r.GetAgentId(), r.GetNodeId(), f.nodes[r.GetAgentId()])
				}
				got[r.GetAgentId()] = append(got[r.GetAgentId()], r)
			}
			for id, w := range want {
				if len(got[id]) != len(w) {
					t.Fatalf("agent %s: got %d records, want %d", id, len(got[id]), len(w))
				}
				last := int64(0)
				for i, r := range got[id] {
					if r.GetSeq() <= last {
						t.Fatalf("agent %s: record %d has seq %d after %d", id, i, r.GetSeq(), last)
					}
					last = r.GetSeq()
					p := proto.CloneOf(r)
					p.NodeId, p.AgentId, p.Epoch, p.Seq = "", "", 0, 0
					if !proto.Equal(p, w[i]) {
						t.Fatalf("agent %s: record %d:\ngot  %v\nwant %v", id, i, p, w[i])
					}
				}
			}
		})
	}

	t.Run("resume after a position", func(t *testing.T) {
		recs := f.records["agent-1"]
		// Learn agent-1's epoch from its first record.
		first := collect(t, c, &hubv1.SubscribeRequest{FromOldest: true, HeartbeatInterval: hb, NodeIds: []string{"node-1"}}, len(recs))
		after := &sysflowv1.Position{AgentId: "agent-1", Epoch: first[0].GetEpoch(), Seq: 100}
		got := collect(t, c, &hubv1.SubscribeRequest{HeartbeatInterval: hb, NodeIds: []string{"node-1"},
			ResumeAfter: []*sysflowv1.Position{after}}, len(recs)-100)
		if got[0].GetSeq() != 101 {
			t.Errorf("first record after seq 100 has seq %d, want 101", got[0].GetSeq())
		}
	})

	t.Run("list agents", func(t *testing.T) {
		agents, err := c.ListAgents(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(agents) != 2 {
			t.Fatalf("ListAgents: got %d agents, want 2", len(agents))
		}
		for _, a := range agents {
			if want := int64(len(f.records[a.GetAgentId()])); a.GetReceivedRecords() != want || !a.GetConnected() {
				t.Errorf("agent %s: received %d records, connected %v; want %d, true", a.GetAgentId(), a.GetReceivedRecords(), a.GetConnected(), want)
			}
		}
	})

	t.Run("bad request", func(t *testing.T) {
		sub := c.Subscribe(context.Background(), &hubv1.SubscribeRequest{RecordTypes: []sysflowv1.RecordType{99}})
		defer sub.Close()
		if sub.Next() {
			t.Fatal("Subscribe with an unknown record type returned a record")
		}
		if got := status.Code(errors.Unwrap(sub.Err())); got != codes.InvalidArgument {
			t.Errorf("Subscribe with an unknown record type: error %v, want code InvalidArgument", sub.Err())
		}
	})
}
