package fanin

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	agentv1 "github.com/sysflux/sysflux/gen/sysflux/agent/v1"
	"github.com/sysflux/sysflux/hub/ring"
)

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatalf("proto.Marshal: %v", err)
	}
	return b
}

func bytesField(num protowire.Number, v []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
}

func varintField(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
}

func join(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func TestTopField(t *testing.T) {
	hello := &agentv1.Hello{AgentId: "agent-a", NodeId: "node-a", Epoch: 5, NextSeq: 10}
	helloB := mustMarshal(t, hello)
	batchB := mustMarshal(t, &sysflowv1.RecordBatch{Records: []*sysflowv1.Record{{Seq: 1}}})
	statsB := mustMarshal(t, &agentv1.Stats{ProducedRecords: 3})
	tests := []struct {
		name     string
		b        []byte
		wantNum  protowire.Number
		wantBody []byte
	}{
		{name: "hello", b: bytesField(1, helloB), wantNum: 1, wantBody: helloB},
		{name: "batch", b: bytesField(2, batchB), wantNum: 2, wantBody: batchB},
		{name: "empty heartbeat", b: bytesField(3, nil), wantNum: 3, wantBody: []byte{}},
		{name: "stats", b: bytesField(4, statsB), wantNum: 4, wantBody: statsB},
		{name: "last member wins", b: join(bytesField(1, helloB), bytesField(2, batchB)), wantNum: 2, wantBody: batchB},
		{name: "last member wins, same member", b: join(bytesField(2, nil), bytesField(2, batchB)), wantNum: 2, wantBody: batchB},
		{name: "non-bytes fields are skipped", b: join(varintField(7, 1), bytesField(1, helloB), varintField(2, 9),
			protowire.AppendFixed32(protowire.AppendTag(nil, 3, protowire.Fixed32Type), 1)), wantNum: 1, wantBody: helloB},
		{name: "skipped group", b: join(bytesField(4, statsB), protowire.AppendTag(nil, 9, protowire.StartGroupType),
			varintField(1, 1), protowire.AppendTag(nil, 9, protowire.EndGroupType)), wantNum: 4, wantBody: statsB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			num, body, err := topField(tt.b)
			if err != nil {
				t.Fatalf("topField(%x): %v", tt.b, err)
			}
			if num != tt.wantNum || string(body) != string(tt.wantBody) {
				t.Errorf("topField(%x) = %d, %x, want %d, %x", tt.b, num, body, tt.wantNum, tt.wantBody)
			}
		})
	}
}

func TestTopFieldAgreesWithUnmarshal(t *testing.T) {
	msgs := []*agentv1.StreamRecordsResponse{
		{Message: &agentv1.StreamRecordsResponse_Hello{Hello: &agentv1.Hello{AgentId: "a", Epoch: 1, MissingRecords: 4}}},
		{Message: &agentv1.StreamRecordsResponse_Batch{Batch: &sysflowv1.RecordBatch{Records: []*sysflowv1.Record{{Seq: 1}, {Seq: 2}}}}},
		{Message: &agentv1.StreamRecordsResponse_Heartbeat{Heartbeat: &agentv1.Heartbeat{SendTime: timestamppb.New(time.Unix(1_700_000_000, 5))}}},
		{Message: &agentv1.StreamRecordsResponse_Heartbeat{Heartbeat: &agentv1.Heartbeat{}}},
		{Message: &agentv1.StreamRecordsResponse_Stats{Stats: &agentv1.Stats{WindowDroppedRecords: 2}}},
	}
	for _, m := range msgs {
		b := mustMarshal(t, m)
		num, body, err := topField(b)
		if err != nil {
			t.Fatalf("topField(%v): %v", m, err)
		}
		fd := m.ProtoReflect().WhichOneof(m.ProtoReflect().Descriptor().Oneofs().ByName("message"))
		if num != fd.Number() {
			t.Errorf("topField(%v) number = %d, want %d", m, num, fd.Number())
		}
		want := mustMarshal(t, m.ProtoReflect().Get(fd).Message().Interface())
		if string(body) != string(want) {
			t.Errorf("topField(%v) body = %x, want %x", m, body, want)
		}
	}
}

func TestTopFieldErrors(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
	}{
		{name: "empty", b: nil},
		{name: "no bytes field", b: join(varintField(1, 1), varintField(2, 2))},
		{name: "truncated tag", b: []byte{0x80}},
		{name: "field number zero", b: []byte{0x02, 0x00}},
		{name: "truncated length", b: join(protowire.AppendTag(nil, 2, protowire.BytesType), []byte{0x80})},
		{name: "length past the end", b: join(protowire.AppendTag(nil, 2, protowire.BytesType), []byte{5, 1, 2})},
		{name: "truncated varint field", b: join(bytesField(1, nil), protowire.AppendTag(nil, 5, protowire.VarintType), []byte{0x80})},
		{name: "stray end group", b: join(bytesField(1, nil), protowire.AppendTag(nil, 5, protowire.EndGroupType))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if num, body, err := topField(tt.b); err == nil {
				t.Errorf("topField(%x) = %d, %x, nil, want an error", tt.b, num, body)
			}
		})
	}
}

var testHello = &agentv1.Hello{AgentId: "agent-a", NodeId: "node-a", Epoch: 5}

// rec returns the encoding of a record of testHello's agent and epoch.
func rec(t testing.TB, seq int64, mod func(*sysflowv1.Record)) []byte {
	t.Helper()
	r := &sysflowv1.Record{
		NodeId: "node-a", AgentId: "agent-a", Epoch: 5, Seq: seq,
		Rec: &sysflowv1.Record_FileFlow{FileFlow: &sysflowv1.FileFlow{Ts: seq, OpFlags: int32(sysflowv1.OperationFlag_OPERATION_FLAG_OPEN)}},
	}
	if mod != nil {
		mod(r)
	}
	return mustMarshal(t, r)
}

// batchOf encodes the records of a RecordBatch.
func batchOf(recs ...[]byte) []byte {
	var b []byte
	for _, r := range recs {
		b = append(b, bytesField(1, r)...)
	}
	return b
}

func TestDecodeBatch(t *testing.T) {
	r1 := rec(t, 1, nil)
	r2 := rec(t, 2, func(r *sysflowv1.Record) {
		r.Rec = &sysflowv1.Record_Process{Process: &sysflowv1.Process{Exe: "/bin/sh"}}
	})
	r3 := rec(t, 3, func(r *sysflowv1.Record) { r.NodeId = "node-b" })
	entry := func(seq int64, raw []byte) ring.Entry {
		return ring.Entry{NodeID: "node-a", AgentID: "agent-a", Epoch: 5, Seq: seq,
			Type: sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW, OpFlags: int32(sysflowv1.OperationFlag_OPERATION_FLAG_OPEN), Raw: raw}
	}
	e2 := entry(2, r2)
	e2.Type, e2.OpFlags = sysflowv1.RecordType_RECORD_TYPE_PROCESS, 0
	e3 := entry(3, r3)
	e3.NodeID = "node-b"
	unknown := join(
		bytesField(2, []byte("x")),
		varintField(1, 7), // records with a wrong wire type
		protowire.AppendFixed32(protowire.AppendTag(nil, 1, protowire.Fixed32Type), 7),
		protowire.AppendFixed64(protowire.AppendTag(nil, 9, protowire.Fixed64Type), 7),
		protowire.AppendTag(nil, 10, protowire.StartGroupType), bytesField(1, r1), protowire.AppendTag(nil, 10, protowire.EndGroupType),
	)
	tests := []struct {
		name string
		b    []byte
		want []ring.Entry
	}{
		{name: "empty", b: nil},
		{name: "records", b: batchOf(r1, r2), want: []ring.Entry{entry(1, r1), e2}},
		{name: "record of another node", b: batchOf(r1, r3), want: []ring.Entry{entry(1, r1), e3}},
		{name: "unknown fields are skipped", b: join(unknown, batchOf(r1), unknown, batchOf(r2), unknown), want: []ring.Entry{entry(1, r1), e2}},
		{name: "order is kept", b: batchOf(r2, r1), want: []ring.Entry{e2, entry(1, r1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeBatch(tt.b, testHello, nil)
			if err != nil {
				t.Fatalf("decodeBatch(%x): %v", tt.b, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decodeBatch(%x) (-want +got):\n%s", tt.b, diff)
			}
		})
	}
}

func TestDecodeBatchAppends(t *testing.T) {
	prev := ring.Entry{AgentID: "earlier", Seq: 99}
	dst := append(make([]ring.Entry, 0, 4), prev)
	got, err := decodeBatch(batchOf(rec(t, 1, nil)), testHello, dst)
	if err != nil {
		t.Fatalf("decodeBatch: %v", err)
	}
	if len(got) != 2 || got[0].AgentID != prev.AgentID || got[0].Seq != prev.Seq || got[1].Seq != 1 {
		t.Errorf("decodeBatch(dst of 1) = %+v, want the earlier entry then seq 1", got)
	}
	if &got[0] != &dst[:1][0] {
		t.Errorf("decodeBatch did not append into dst's backing array")
	}
}

func TestDecodeBatchErrors(t *testing.T) {
	good := rec(t, 1, nil)
	noPayload := rec(t, 2, func(r *sysflowv1.Record) { r.Rec = nil })
	malformed := join(bytesField(17, []byte{0x20}), varintField(2, 1)) // file_flow with a truncated field
	tests := []struct {
		name    string
		b       []byte
		scanned []byte // a record whose Scan error decodeBatch must return
	}{
		{name: "another agent", b: batchOf(good, rec(t, 2, func(r *sysflowv1.Record) { r.AgentId = "agent-b" }))},
		{name: "no agent", b: batchOf(rec(t, 1, func(r *sysflowv1.Record) { r.AgentId = "" }))},
		{name: "another epoch", b: batchOf(rec(t, 1, func(r *sysflowv1.Record) { r.Epoch = 4 }))},
		{name: "later epoch", b: batchOf(good, rec(t, 1, func(r *sysflowv1.Record) { r.Epoch = 6 }))},
		{name: "record without payload", b: batchOf(good, noPayload), scanned: noPayload},
		{name: "malformed record", b: batchOf(malformed), scanned: malformed},
		{name: "empty record", b: batchOf(nil), scanned: []byte{}},
		{name: "truncated batch", b: batchOf(good)[:len(good)]},
		{name: "truncated tag", b: []byte{0x80}},
		{name: "truncated unknown field", b: join(batchOf(good), protowire.AppendTag(nil, 3, protowire.Fixed64Type), []byte{1})},
		{name: "stray end group", b: join(batchOf(good), protowire.AppendTag(nil, 3, protowire.EndGroupType))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeBatch(tt.b, testHello, nil)
			if err == nil {
				t.Fatalf("decodeBatch(%x) = %d entries, nil, want an error", tt.b, len(got))
			}
			if tt.scanned == nil {
				return
			}
			_, want := ring.Scan(tt.scanned)
			if want == nil {
				t.Fatalf("ring.Scan(%x) = nil; the test case is wrong", tt.scanned)
			}
			if !errors.Is(err, want) && err.Error() != want.Error() {
				t.Errorf("decodeBatch(%x) = %v, want ring.Scan's error %v", tt.b, err, want)
			}
		})
	}
}

func FuzzDecodeBatch(f *testing.F) {
	good := rec(f, 1, nil)
	f.Add(batchOf(good, rec(f, 2, nil)), "agent-a", int64(5))
	f.Add(batchOf(good, rec(f, 2, func(r *sysflowv1.Record) { r.AgentId = "agent-b" })), "agent-a", int64(5))
	f.Add(join(bytesField(2, []byte("x")), batchOf(good), varintField(1, 3)), "agent-a", int64(5))
	f.Add(batchOf(rec(f, 1, func(r *sysflowv1.Record) {
		r.NodeId = "node-b"
		r.Rec = &sysflowv1.Record_Pod{Pod: &sysflowv1.Pod{Id: "p"}}
	})), "agent-a", int64(5))
	f.Add(batchOf(rec(f, 7, func(r *sysflowv1.Record) { r.Rec = nil })), "agent-a", int64(5))
	f.Add([]byte{}, "", int64(0))
	f.Fuzz(func(t *testing.T, b []byte, agentID string, epoch int64) {
		hello := &agentv1.Hello{AgentId: agentID, NodeId: "hello-node", Epoch: epoch}
		got, err := decodeBatch(b, hello, nil)
		if err != nil {
			return
		}
		for i, e := range got {
			m, err := ring.Scan(e.Raw)
			if err != nil {
				t.Fatalf("entry %d: ring.Scan(Raw): %v", i, err)
			}
			want := ring.Entry{NodeID: string(m.NodeID), AgentID: agentID, Epoch: epoch, Seq: m.Seq, Type: m.Type, OpFlags: m.OpFlags, Raw: e.Raw}
			if string(m.AgentID) != agentID || m.Epoch != epoch {
				t.Fatalf("entry %d is of %s/%d, hello is %s/%d", i, m.AgentID, m.Epoch, agentID, epoch)
			}
			if diff := cmp.Diff(want, e); diff != "" {
				t.Fatalf("entry %d (-scan +decodeBatch):\n%s", i, diff)
			}
		}
		// Where the generated code can read the batch, it finds the same records.
		var batch sysflowv1.RecordBatch
		if err := proto.Unmarshal(b, &batch); err != nil {
			return
		}
		if len(batch.GetRecords()) != len(got) {
			t.Fatalf("decodeBatch found %d records, proto.Unmarshal %d", len(got), len(batch.GetRecords()))
		}
		for i, r := range batch.GetRecords() {
			want := ring.Entry{NodeID: r.GetNodeId(), AgentID: r.GetAgentId(), Epoch: r.GetEpoch(), Seq: r.GetSeq(), Raw: got[i].Raw}
			pr := r.ProtoReflect()
			if fd := pr.WhichOneof(pr.Descriptor().Oneofs().ByName("rec")); fd != nil {
				want.Type = sysflowv1.RecordType(fd.Number() - 10)
				p := pr.Get(fd).Message()
				if f := p.Descriptor().Fields().ByName("op_flags"); f != nil {
					want.OpFlags = int32(p.Get(f).Int())
				}
			}
			if diff := cmp.Diff(want, got[i]); diff != "" {
				t.Fatalf("record %d (-unmarshal +decodeBatch):\n%s", i, diff)
			}
		}
	})
}
