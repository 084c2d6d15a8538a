package agent_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sysflux/sysflux/agent"
	"github.com/sysflux/sysflux/agent/replay"
	"github.com/sysflux/sysflux/agent/spool"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	agentv1 "github.com/sysflux/sysflux/gen/sysflux/agent/v1"
)

// records returns n distinct records.
func records(n int) []*sysflowv1.Record {
	out := make([]*sysflowv1.Record, n)
	for i := range out {
		out[i] = &sysflowv1.Record{Rec: &sysflowv1.Record_ProcessEvent{ProcessEvent: &sysflowv1.ProcessEvent{
			ProcOid: &sysflowv1.OID{CreateTs: 1, Hpid: int64(i)}, Ts: int64(i), OpFlags: 2,
		}}}
	}
	return out
}

// serve runs an agent that has produced n records and returns a client of it.
func serve(t *testing.T, n int, cfg agent.Config) (agentv1.AgentServiceClient, *agent.Agent) {
	t.Helper()
	cfg.Window.AgentID, cfg.Window.NodeID, cfg.Window.Epoch = "a", "n", 42
	a := agent.New(cfg)
	if err := a.Run(context.Background(), replay.Records{Label: "test", Records: records(n)}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := agent.NewGRPCServer(a, nil)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return agentv1.NewAgentServiceClient(cc), a
}

func open(t *testing.T, ctx context.Context, c agentv1.AgentServiceClient, resume *sysflowv1.Position) (agentv1.AgentService_StreamRecordsClient, *agentv1.Hello) {
	t.Helper()
	st, err := c.StreamRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&agentv1.StreamRecordsRequest{Message: &agentv1.StreamRecordsRequest_Open{Open: &agentv1.Open{HubId: "test", ResumeAfter: resume}}}); err != nil {
		t.Fatal(err)
	}
	resp, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetHello() == nil {
		t.Fatalf("first message %v, want a Hello", resp)
	}
	return st, resp.GetHello()
}

// receive reads records until it has n, and returns their sequence numbers.
func receive(t *testing.T, st agentv1.AgentService_StreamRecordsClient, n int) []int64 {
	t.Helper()
	var seqs []int64
	for len(seqs) < n {
		resp, err := st.Recv()
		if err != nil {
			t.Fatalf("after %d records: %v", len(seqs), err)
		}
		for _, r := range resp.GetBatch().GetRecords() {
			if r.GetAgentId() != "a" || r.GetNodeId() != "n" || r.GetEpoch() != 42 {
				t.Fatalf("record envelope %q %q %d, want a n 42", r.GetAgentId(), r.GetNodeId(), r.GetEpoch())
			}
			seqs = append(seqs, r.GetSeq())
		}
	}
	return seqs
}

func TestStreamResumes(t *testing.T) {
	c, a := serve(t, 1000, agent.Config{BatchRecords: 64})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	st, hello := open(t, ctx, c, nil)
	if hello.GetAgentId() != "a" || hello.GetEpoch() != 42 || hello.GetOldestSeq() != 1 || hello.GetNextSeq() != 1001 || hello.GetMissingRecords() != 0 {
		t.Fatalf("Hello = %v", hello)
	}
	seqs := receive(t, st, 1000)
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("record %d has seq %d", i, s)
		}
	}
	if err := st.Send(&agentv1.StreamRecordsRequest{Message: &agentv1.StreamRecordsRequest_Ack{Ack: &agentv1.Ack{Epoch: 42, Seq: 600}}}); err != nil {
		t.Fatal(err)
	}
	for a.Window().Stats().Acked != 600 {
		if ctx.Err() != nil {
			t.Fatal("the agent never applied the ack")
		}
		time.Sleep(time.Millisecond)
	}

	// A second stream replaces the first, and resumes after the position it names.
	st2, _ := open(t, ctx, c, &sysflowv1.Position{AgentId: "a", Epoch: 42, Seq: 900})
	if got := receive(t, st2, 100); got[0] != 901 || got[99] != 1000 {
		t.Errorf("resumed stream sent seqs %d..%d, want 901..1000", got[0], got[99])
	}
	if _, err := st.Recv(); status.Code(err) != codes.Aborted {
		t.Errorf("replaced stream ended with %v, want Aborted", err)
	}

	// A position of another epoch (a hub that knew an earlier run of the agent) gets everything.
	st3, _ := open(t, ctx, c, &sysflowv1.Position{AgentId: "a", Epoch: 7, Seq: 900})
	if got := receive(t, st3, 1000); got[0] != 1 {
		t.Errorf("stream after a stale epoch starts at seq %d, want 1", got[0])
	}
}

func TestStreamReportsMissing(t *testing.T) {
	// A window of 100 records with acknowledged ones evicted: 400 records, the first 300 gone.
	c, a := serve(t, 400, agent.Config{Window: spool.Config{MaxRecords: 100, Overflow: spool.DropOldest}})
	if got := a.Window().Stats().Dropped; got != 300 {
		t.Fatalf("window dropped %d records, want 300", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, hello := open(t, ctx, c, &sysflowv1.Position{AgentId: "a", Epoch: 42, Seq: 250})
	if hello.GetMissingRecords() != 50 || hello.GetOldestSeq() != 301 {
		t.Errorf("Hello = %v, want 50 missing records and oldest seq 301", hello)
	}
	if got := receive(t, st, 100); got[0] != 301 {
		t.Errorf("first record sent has seq %d, want 301", got[0])
	}
}

func TestStreamHeartbeatAndStats(t *testing.T) {
	c, _ := serve(t, 3, agent.Config{HeartbeatInterval: 20 * time.Millisecond, StatsInterval: 30 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, _ := open(t, ctx, c, nil)
	receive(t, st, 3)
	var heartbeat, stats bool
	for !heartbeat || !stats {
		resp, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		heartbeat = heartbeat || resp.GetHeartbeat() != nil
		if s := resp.GetStats(); s != nil {
			stats = true
			if s.GetProducedRecords() != 3 || s.GetSentRecords() != 3 || s.GetWindowRecords() != 3 {
				t.Errorf("Stats = %v, want 3 produced, sent and held", s)
			}
		}
	}
}

func TestStreamNeedsOpen(t *testing.T) {
	c, _ := serve(t, 1, agent.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.StreamRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&agentv1.StreamRecordsRequest{Message: &agentv1.StreamRecordsRequest_Ack{Ack: &agentv1.Ack{Epoch: 42, Seq: 1}}}); err != nil {
		t.Fatal(err)
	}
	_, err = st.Recv()
	if status.Code(err) != codes.InvalidArgument || errors.Is(err, io.EOF) {
		t.Errorf("stream without Open: %v, want InvalidArgument", err)
	}
}

// Batches are bounded by bytes as well as by records: no message exceeds BatchBytes unless a
// single record does, and every record is sent once, in order.
func TestStreamBatchBytes(t *testing.T) {
	// The largest of the records as the window stamps them.
	largest := records(300)[299]
	largest.AgentId, largest.NodeId, largest.Epoch, largest.Seq = "a", "n", 42, 300
	// Room for three records a message, though BatchRecords allows 64.
	limit := 3 * proto.Size(largest)
	c, _ := serve(t, 300, agent.Config{BatchRecords: 64, BatchBytes: limit})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, _ := open(t, ctx, c, nil)
	var seqs []int64
	for len(seqs) < 300 {
		resp, err := st.Recv()
		if err != nil {
			t.Fatalf("after %d records: %v", len(seqs), err)
		}
		b := resp.GetBatch()
		if b == nil {
			continue
		}
		size := 0
		for _, r := range b.GetRecords() {
			size += proto.Size(r)
			seqs = append(seqs, r.GetSeq())
		}
		if len(b.GetRecords()) > 1 && size > limit {
			t.Fatalf("a batch of %d records takes %d bytes, over BatchBytes %d", len(b.GetRecords()), size, limit)
		}
		if len(b.GetRecords()) == 0 || len(b.GetRecords()) > 3 {
			t.Fatalf("a batch of %d records; want 1 to 3", len(b.GetRecords()))
		}
	}
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("record %d has seq %d", i, s)
		}
	}
}
