package ring_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/hub/ring"
)

// meta is ring.Meta with comparable strings.
type meta struct {
	NodeID, AgentID string
	Epoch, Seq      int64
	Type            sysflowv1.RecordType
	OpFlags         int32
	HasOpFlags      bool
}

func fromScan(m ring.Meta) meta {
	return meta{
		NodeID: string(m.NodeID), AgentID: string(m.AgentID), Epoch: m.Epoch, Seq: m.Seq,
		Type: m.Type, OpFlags: m.OpFlags, HasOpFlags: m.HasOpFlags,
	}
}

// fromRecord is what Scan should report for r, read with the generated getters.
func fromRecord(r *sysflowv1.Record) meta {
	m := meta{NodeID: r.GetNodeId(), AgentID: r.GetAgentId(), Epoch: r.GetEpoch(), Seq: r.GetSeq()}
	switch p := r.GetRec().(type) {
	case *sysflowv1.Record_Header:
		m.Type = sysflowv1.RecordType_RECORD_TYPE_HEADER
	case *sysflowv1.Record_Container:
		m.Type = sysflowv1.RecordType_RECORD_TYPE_CONTAINER
	case *sysflowv1.Record_Process:
		m.Type = sysflowv1.RecordType_RECORD_TYPE_PROCESS
	case *sysflowv1.Record_File:
		m.Type = sysflowv1.RecordType_RECORD_TYPE_FILE
	case *sysflowv1.Record_ProcessEvent:
		m.Type, m.OpFlags, m.HasOpFlags = sysflowv1.RecordType_RECORD_TYPE_PROCESS_EVENT, p.ProcessEvent.GetOpFlags(), true
	case *sysflowv1.Record_NetworkFlow:
		m.Type, m.OpFlags, m.HasOpFlags = sysflowv1.RecordType_RECORD_TYPE_NETWORK_FLOW, p.NetworkFlow.GetOpFlags(), true
	case *sysflowv1.Record_FileFlow:
		m.Type, m.OpFlags, m.HasOpFlags = sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW, p.FileFlow.GetOpFlags(), true
	case *sysflowv1.Record_FileEvent:
		m.Type, m.OpFlags, m.HasOpFlags = sysflowv1.RecordType_RECORD_TYPE_FILE_EVENT, p.FileEvent.GetOpFlags(), true
	case *sysflowv1.Record_NetworkEvent:
		m.Type, m.OpFlags, m.HasOpFlags = sysflowv1.RecordType_RECORD_TYPE_NETWORK_EVENT, p.NetworkEvent.GetOpFlags(), true
	case *sysflowv1.Record_ProcessFlow:
		m.Type, m.OpFlags, m.HasOpFlags = sysflowv1.RecordType_RECORD_TYPE_PROCESS_FLOW, p.ProcessFlow.GetOpFlags(), true
	case *sysflowv1.Record_Pod:
		m.Type = sysflowv1.RecordType_RECORD_TYPE_POD
	case *sysflowv1.Record_K8SEvent:
		m.Type = sysflowv1.RecordType_RECORD_TYPE_K8S_EVENT
	}
	return m
}

const flags = int32(sysflowv1.OperationFlag_OPERATION_FLAG_OPEN | sysflowv1.OperationFlag_OPERATION_FLAG_READ_RECV |
	sysflowv1.OperationFlag_OPERATION_FLAG_CLOSE | sysflowv1.OperationFlag_OPERATION_FLAG_CHOWN)

// allTypes returns one record of every type, with the envelope and every other field that
// matters to Scan set.
func allTypes() []*sysflowv1.Record {
	oid := &sysflowv1.OID{CreateTs: 1_700_000_000_000_000_000, Hpid: 4242}
	recs := []*sysflowv1.Record{
		{Rec: &sysflowv1.Record_Header{Header: &sysflowv1.SFHeader{Version: 5, Exporter: "node-a", Ip: "10.0.0.1"}}},
		{Rec: &sysflowv1.Record_Container{Container: &sysflowv1.Container{Id: "0123456789ab", Name: "web", Privileged: true, PodId: proto.String("pod-1")}}},
		{Rec: &sysflowv1.Record_Process{Process: &sysflowv1.Process{Oid: oid, Poid: oid, Exe: "/bin/sh", ExeArgs: "-c true", Uid: 1000, Env: []string{"A=1", "B=2"}}}},
		{Rec: &sysflowv1.Record_File{File: &sysflowv1.File{Oid: make([]byte, 20), Restype: 'f', Path: "/etc/shadow"}}},
		{Rec: &sysflowv1.Record_ProcessEvent{ProcessEvent: &sysflowv1.ProcessEvent{ProcOid: oid, Ts: 1, Tid: 2, OpFlags: int32(sysflowv1.OperationFlag_OPERATION_FLAG_EXEC), Args: []string{"x"}, Ret: -1}}},
		{Rec: &sysflowv1.Record_NetworkFlow{NetworkFlow: &sysflowv1.NetworkFlow{ProcOid: oid, Ts: 1, Tid: 2, OpFlags: flags, EndTs: 3, Sport: 443, Dport: 51234, Proto: 6, Sip6: make([]byte, 16)}}},
		{Rec: &sysflowv1.Record_FileFlow{FileFlow: &sysflowv1.FileFlow{ProcOid: oid, Ts: 1, Tid: 2, OpFlags: flags, OpenFlags: int32(sysflowv1.OpenFlag_OPEN_FLAG_RDWR), FileOid: make([]byte, 20)}}},
		{Rec: &sysflowv1.Record_FileEvent{FileEvent: &sysflowv1.FileEvent{ProcOid: oid, OpFlags: int32(sysflowv1.OperationFlag_OPERATION_FLAG_RENAME), FileOid: make([]byte, 20), NewFileOid: make([]byte, 20)}}},
		{Rec: &sysflowv1.Record_NetworkEvent{NetworkEvent: &sysflowv1.NetworkEvent{ProcOid: oid, OpFlags: int32(sysflowv1.OperationFlag_OPERATION_FLAG_CONNECT), Dport: 53, Proto: 17}}},
		{Rec: &sysflowv1.Record_ProcessFlow{ProcessFlow: &sysflowv1.ProcessFlow{ProcOid: oid, NumThreadsCloned: 3, OpFlags: int32(sysflowv1.OperationFlag_OPERATION_FLAG_CLONE | sysflowv1.OperationFlag_OPERATION_FLAG_EXIT), NumThreadsExited: 2}}},
		{Rec: &sysflowv1.Record_Pod{Pod: &sysflowv1.Pod{Id: "pod-1", Name: "web-0", HostIps: []int64{1, 2}, Labels: map[string]string{"app": "web"},
			Services: []*sysflowv1.Service{{Name: "web", PortList: []*sysflowv1.Port{{Port: 80, TargetPort: 8080}}}}}}},
		{Rec: &sysflowv1.Record_K8SEvent{K8SEvent: &sysflowv1.K8SEvent{Kind: sysflowv1.K8SComponent_K8S_COMPONENT_PODS, Action: sysflowv1.K8SAction_K8S_ACTION_COMPONENT_ADDED, Message: "{}"}}},
	}
	for i, r := range recs {
		r.NodeId, r.AgentId, r.Epoch, r.Seq = "node-a", "agent-a", 1_712_000_000, int64(1000+i)
	}
	return recs
}

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatalf("proto.Marshal: %v", err)
	}
	return b
}

// unknownFields is one unknown field of every wire type.
func unknownFields(start protowire.Number) []byte {
	var b []byte
	b = protowire.AppendTag(b, start, protowire.VarintType)
	b = protowire.AppendVarint(b, 1<<40)
	b = protowire.AppendTag(b, start+1, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 7)
	b = protowire.AppendTag(b, start+2, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, 7)
	b = protowire.AppendTag(b, start+3, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte("unknown"))
	b = protowire.AppendTag(b, start+4, protowire.StartGroupType)
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 3)
	b = protowire.AppendTag(b, start+4, protowire.EndGroupType)
	return b
}

// wrongWireTypes repeats known field numbers with a wire type they do not have; a decoder keeps
// them as unknown fields.
func wrongWireTypes() []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType) // node_id
	b = protowire.AppendVarint(b, 9)
	b = protowire.AppendTag(b, 2, protowire.Fixed32Type) // agent_id
	b = protowire.AppendFixed32(b, 9)
	b = protowire.AppendTag(b, 3, protowire.BytesType) // epoch
	b = protowire.AppendBytes(b, []byte{9})
	b = protowire.AppendTag(b, 4, protowire.Fixed64Type) // seq
	b = protowire.AppendFixed64(b, 9)
	b = protowire.AppendTag(b, 15, protowire.VarintType) // process_event
	b = protowire.AppendVarint(b, 9)
	b = protowire.AppendTag(b, 10, protowire.BytesType) // below the oneof
	b = protowire.AppendBytes(b, nil)
	b = protowire.AppendTag(b, 23, protowire.BytesType) // above the oneof
	b = protowire.AppendBytes(b, nil)
	return b
}

// withPayloadUnknowns returns r with unknown fields, and op_flags with a wrong wire type, added
// to its payload.
func withPayloadUnknowns(r *sysflowv1.Record) *sysflowv1.Record {
	r = proto.Clone(r).(*sysflowv1.Record)
	pr := r.ProtoReflect()
	od := pr.Descriptor().Oneofs().ByName("rec")
	p := pr.Get(pr.WhichOneof(od)).Message()
	u := unknownFields(100)
	u = protowire.AppendTag(u, 4, protowire.Fixed32Type) // op_flags as fixed32
	u = protowire.AppendFixed32(u, 0xffff)
	u = protowire.AppendTag(u, 4, protowire.BytesType) // op_flags as bytes
	u = protowire.AppendBytes(u, []byte{1, 2, 3})
	p.SetUnknown(protoreflect.RawFields(u))
	return r
}

// payloadField encodes one oneof member of Record with the given payload bytes.
func payloadField(t sysflowv1.RecordType, payload []byte) []byte {
	b := protowire.AppendTag(nil, protowire.Number(10+t), protowire.BytesType)
	return protowire.AppendBytes(b, payload)
}

// opFlagsPayload encodes an event or flow payload with only ts and, if set, op_flags.
func opFlagsPayload(set bool, v uint64) []byte {
	b := protowire.AppendTag(nil, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, 77)
	if set {
		b = protowire.AppendTag(b, 4, protowire.VarintType)
		b = protowire.AppendVarint(b, v)
	}
	return b
}

// redecode returns r encoded and decoded again by proto.Unmarshal.
func redecode(t *testing.T, r *sysflowv1.Record) *sysflowv1.Record {
	t.Helper()
	b, err := proto.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var out sysflowv1.Record
	if err := proto.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// str encodes string field num holding s, UTF-8 or not.
func str(num protowire.Number, s string) []byte {
	return protowire.AppendString(protowire.AppendTag(nil, num, protowire.BytesType), s)
}

func concat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// scanCases are encodings Scan must read exactly as proto.Unmarshal does. They also seed
// FuzzScan.
func scanCases(t testing.TB) map[string][]byte {
	cases := make(map[string][]byte)
	for _, r := range allTypes() {
		name := r.ProtoReflect().WhichOneof(r.ProtoReflect().Descriptor().Oneofs().ByName("rec")).Name()
		b := marshal(t, r)
		cases[string(name)] = b
		cases[string(name)+"/unknown fields after"] = concat(b, unknownFields(30))
		cases[string(name)+"/unknown fields before"] = concat(unknownFields(30), b)
		cases[string(name)+"/known numbers with wrong wire types"] = concat(wrongWireTypes(), b, wrongWireTypes())
		cases[string(name)+"/unknown fields in payload"] = marshal(t, withPayloadUnknowns(r))
		env := proto.Clone(r).(*sysflowv1.Record)
		env.Rec = nil
		only := proto.Clone(r).(*sysflowv1.Record)
		only.NodeId, only.AgentId, only.Epoch, only.Seq = "", "", 0, 0
		cases[string(name)+"/payload before envelope"] = concat(marshal(t, only), marshal(t, env))
	}

	pe := sysflowv1.RecordType_RECORD_TYPE_PROCESS_EVENT
	ff := sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW
	proc := sysflowv1.RecordType_RECORD_TYPE_PROCESS
	cases["last envelope value wins"] = concat(
		marshal(t, &sysflowv1.Record{NodeId: "old-node", AgentId: "old-agent", Epoch: 1, Seq: 1}),
		payloadField(pe, opFlagsPayload(true, 2)),
		marshal(t, &sysflowv1.Record{NodeId: "new-node", AgentId: "new-agent", Epoch: 2, Seq: 2}),
	)
	cases["empty strings override earlier values"] = concat(
		marshal(t, &sysflowv1.Record{NodeId: "n", AgentId: "a"}),
		protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), nil),
		protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), nil),
		payloadField(proc, nil),
	)
	cases["zero epoch and seq override earlier values"] = concat(
		marshal(t, &sysflowv1.Record{Epoch: 5, Seq: 6}),
		protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.VarintType), 0),
		protowire.AppendVarint(protowire.AppendTag(nil, 4, protowire.VarintType), 0),
		payloadField(proc, nil),
	)
	cases["negative epoch and seq"] = marshal(t, &sysflowv1.Record{Epoch: -1, Seq: -9_000_000_000,
		Rec: &sysflowv1.Record_Header{Header: &sysflowv1.SFHeader{}}})
	cases["non-minimal varints"] = concat(
		protowire.AppendTag(nil, 3, protowire.VarintType), []byte{0x85, 0x80, 0x80, 0x00},
		protowire.AppendTag(nil, 4, protowire.VarintType), []byte{0x81, 0x80, 0x00},
		payloadField(pe, concat(protowire.AppendTag(nil, 4, protowire.VarintType), []byte{0x82, 0x80, 0x80, 0x80, 0x00})),
	)
	cases["empty payload"] = payloadField(sysflowv1.RecordType_RECORD_TYPE_HEADER, nil)
	cases["empty op-flags payload"] = payloadField(pe, nil)
	cases["negative op_flags"] = marshal(t, &sysflowv1.Record{Rec: &sysflowv1.Record_FileFlow{FileFlow: &sysflowv1.FileFlow{OpFlags: -1}}})
	cases["op_flags wider than int32"] = payloadField(ff, opFlagsPayload(true, 1<<40|0x81))
	cases["last op_flags in a payload wins"] = payloadField(pe, concat(opFlagsPayload(true, 1), opFlagsPayload(true, 2)))
	cases["another member replaces the payload"] = concat(payloadField(pe, opFlagsPayload(true, 2)), payloadField(ff, opFlagsPayload(true, 4)))
	cases["another member without op_flags resets them"] = concat(payloadField(pe, opFlagsPayload(true, 2)), payloadField(ff, opFlagsPayload(false, 0)))
	cases["member without op_flags after one with"] = concat(payloadField(pe, opFlagsPayload(true, 2)), payloadField(proc, nil))
	cases["same member twice merges"] = concat(payloadField(pe, opFlagsPayload(true, 2)), payloadField(pe, opFlagsPayload(false, 0)))
	cases["same member twice, second op_flags wins"] = concat(payloadField(pe, opFlagsPayload(true, 2)), payloadField(pe, opFlagsPayload(true, 8)))
	cases["same member after another one does not merge"] = concat(
		payloadField(pe, opFlagsPayload(true, 2)), payloadField(proc, nil), payloadField(pe, opFlagsPayload(false, 0)))
	return cases
}

func TestScanAgreesWithUnmarshal(t *testing.T) {
	for name, b := range scanCases(t) {
		t.Run(name, func(t *testing.T) {
			var r sysflowv1.Record
			if err := proto.Unmarshal(b, &r); err != nil {
				t.Fatalf("proto.Unmarshal: %v", err)
			}
			m, err := ring.Scan(b)
			if err != nil {
				t.Fatalf("Scan(%x): %v", b, err)
			}
			if diff := cmp.Diff(fromRecord(&r), fromScan(m)); diff != "" {
				t.Errorf("Scan(%x) (-unmarshal +scan):\n%s", b, diff)
			}
		})
	}
}

func TestScanCoversEveryType(t *testing.T) {
	seen := make(map[sysflowv1.RecordType]bool)
	for _, r := range allTypes() {
		m, err := ring.Scan(marshal(t, r))
		if err != nil {
			t.Fatalf("Scan(%v): %v", r, err)
		}
		seen[m.Type] = true
	}
	for v := range sysflowv1.RecordType_name {
		typ := sysflowv1.RecordType(v)
		if typ != sysflowv1.RecordType_RECORD_TYPE_UNSPECIFIED && !seen[typ] {
			t.Errorf("no test record of type %v", typ)
		}
	}
	// Every oneof member has field number 10 + its type.
	od := (&sysflowv1.Record{}).ProtoReflect().Descriptor().Oneofs().ByName("rec")
	if got, want := od.Fields().Len(), len(sysflowv1.RecordType_name)-1; got != want {
		t.Errorf("Record.rec has %d members, want %d (one per RecordType)", got, want)
	}
}

func TestScanErrors(t *testing.T) {
	good := marshal(t, allTypes()[5]) // a network flow
	envelope := marshal(t, &sysflowv1.Record{NodeId: "n", AgentId: "a", Epoch: 3, Seq: 9})
	tests := []struct {
		name string
		b    []byte
		want string // in the error
		// decodes: proto.Unmarshal decodes the record, and Scan refuses it all the same
		decodes bool
	}{
		{name: "empty", b: nil},
		{name: "envelope only", b: envelope},
		{name: "unknown fields only", b: concat(envelope, unknownFields(30))},
		{name: "payload with a wrong wire type only", b: concat(envelope, wrongWireTypes())},
		{name: "truncated", b: good[:len(good)-1]},
		{name: "truncated tag", b: []byte{0x80}},
		{name: "field number zero", b: concat([]byte{0x00, 0x01}, good)},
		{name: "truncated node_id", b: concat(good, protowire.AppendTag(nil, 1, protowire.BytesType), []byte{5, 'a'})},
		{name: "truncated epoch", b: concat(good, protowire.AppendTag(nil, 3, protowire.VarintType), []byte{0x80})},
		{name: "varint overflow", b: concat(good, protowire.AppendTag(nil, 4, protowire.VarintType), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02})},
		{name: "truncated unknown field", b: concat(good, protowire.AppendTag(nil, 99, protowire.Fixed64Type), []byte{1, 2})},
		{name: "unterminated group", b: concat(good, protowire.AppendTag(nil, 99, protowire.StartGroupType))},
		{name: "stray end group", b: concat(good, protowire.AppendTag(nil, 99, protowire.EndGroupType))},
		{name: "payload length past the end", b: concat(protowire.AppendTag(nil, 16, protowire.BytesType), []byte{10, 1})},
		{name: "malformed op-flags payload", b: payloadField(sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW, []byte{0x20})},
		{name: "malformed op_flags", b: payloadField(sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW, []byte{0x20, 0x80})},
		{name: "node_id not UTF-8", b: concat(good, str(1, "\xff")), want: "sysflow.v1.Record.node_id: invalid UTF-8"},
		{name: "tag not UTF-8", b: concat(good, str(5, "ok"), str(5, "\xc3")), want: "sysflow.v1.Record.tags: invalid UTF-8"},
		{name: "exe not UTF-8", b: payloadField(sysflowv1.RecordType_RECORD_TYPE_PROCESS, str(5, "/bin/\xffsh")), want: "sysflow.v1.Process.exe: invalid UTF-8"},
		{name: "pod label not UTF-8", b: payloadField(sysflowv1.RecordType_RECORD_TYPE_POD,
			concat(protowire.AppendTag(nil, 9, protowire.BytesType), protowire.AppendBytes(nil, concat(str(1, "app"), str(2, "\xfe"))))),
			want: "sysflow.v1.Pod.LabelsEntry.value: invalid UTF-8"},
		{name: "malformed nested OID", b: payloadField(sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW,
			concat(protowire.AppendTag(nil, 1, protowire.BytesType), protowire.AppendBytes(nil, []byte{0x08, 0x80}))),
			want: "sysflow.v1.OID.create_ts: malformed protobuf"},
		{name: "map key of another wire type", b: payloadField(sysflowv1.RecordType_RECORD_TYPE_POD,
			concat(protowire.AppendTag(nil, 9, protowire.BytesType), protowire.AppendBytes(nil, concat(
				protowire.AppendFixed64(protowire.AppendTag(nil, 1, protowire.Fixed64Type), 7), str(2, "v"))))),
			want: "sysflow.v1.Pod.LabelsEntry.key: map key or value of another wire type", decodes: true},
		{name: "truncated packed numbers", b: payloadField(sysflowv1.RecordType_RECORD_TYPE_POD,
			concat(protowire.AppendTag(nil, 5, protowire.BytesType), protowire.AppendBytes(nil, []byte{0x01, 0x80}))),
			want: "sysflow.v1.Pod.host_ips: malformed protobuf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m, err := ring.Scan(tt.b); err == nil {
				t.Errorf("Scan(%x) = %+v, nil, want an error", tt.b, m)
			} else if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Scan(%x) = %v, want an error naming %q", tt.b, err, tt.want)
			}
			// proto.Unmarshal agrees: either it fails or the record has no payload.
			var r sysflowv1.Record
			if err := proto.Unmarshal(tt.b, &r); err == nil && r.GetRec() != nil && !tt.decodes {
				t.Errorf("proto.Unmarshal(%x) found payload %T; the test case is wrong", tt.b, r.GetRec())
			}
		})
	}
}

func FuzzScan(f *testing.F) {
	for _, b := range scanCases(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ring.Scan(b)
		var r sysflowv1.Record
		uerr := proto.Unmarshal(b, &r)
		if uerr != nil {
			// What the ring accepts, every reader must decode.
			if err == nil {
				t.Fatalf("Scan(%x) = %+v, nil; proto.Unmarshal: %v", b, m, uerr)
			}
			return
		}
		if r.GetRec() == nil {
			if err == nil {
				t.Fatalf("Scan(%x) = %+v, nil; proto.Unmarshal finds no payload", b, m)
			}
			return
		}
		if errors.Is(err, ring.ErrMapEntryWireType) {
			return
		}
		if err != nil {
			t.Fatalf("Scan(%x): %v; proto.Unmarshal succeeds with payload %T", b, err, r.GetRec())
		}
		if diff := cmp.Diff(fromRecord(&r), fromScan(m)); diff != "" {
			t.Fatalf("Scan(%x) (-unmarshal +scan):\n%s", b, diff)
		}
		var d sysflowv1.Record
		if err := ring.Decode(b, &d); err != nil {
			t.Fatalf("Decode(%x): %v; proto.Unmarshal succeeds", b, err)
		}
		// Unknown fields may differ in how their tags are encoded (UnmarshalVT keeps the bytes,
		// proto.Unmarshal encodes the tag again): compare what decoding them again gives.
		if !proto.Equal(redecode(t, &d), &r) {
			t.Fatalf("Decode(%x) = %v, proto.Unmarshal %v", b, &d, &r)
		}
	})
}
