package service

import (
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sysflux/sysflux/agent/sfavro"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/hub/ring"
)

// FuzzDecode checks the filter's decoder against proto.Unmarshal on any bytes an agent may send
// as a record: when the ring accepts them, both decode them, to the same record.
func FuzzDecode(f *testing.F) {
	paths, _ := filepath.Glob("../../../shared/fixtures/sysflow/traces/*.sf")
	for _, p := range paths[:min(3, len(paths))] {
		recs, err := sfavro.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, r := range recs[:min(8, len(recs))] {
			r.NodeId, r.AgentId, r.Epoch, r.Seq = "n", "a", 1, 2
			b, _ := proto.Marshal(r)
			f.Add(b)
		}
	}
	if _, err := os.Stat("testdata/fuzz/FuzzDecode"); err != nil && len(paths) == 0 {
		f.Fatal("no fixtures and no corpus")
	}
	var d recordDecoder
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := ring.Scan(raw)
		if err != nil {
			return
		}
		var want sysflowv1.Record
		wantErr := proto.Unmarshal(raw, &want)
		got, err := d.decode(m.Type, raw, envelope{string(m.NodeID), string(m.AgentID), m.Epoch, m.Seq})
		if wantErr != nil {
			t.Fatalf("the ring accepts what proto.Unmarshal refuses: %v", wantErr)
		}
		if err != nil {
			t.Fatalf("decode: %v; proto.Unmarshal succeeds", err)
		}
		// The envelope as the ring read it, and the same payload; tags and unknown envelope
		// fields are not the filter's.
		if got.GetNodeId() != want.GetNodeId() || got.GetAgentId() != want.GetAgentId() ||
			got.GetEpoch() != want.GetEpoch() || got.GetSeq() != want.GetSeq() {
			t.Fatalf("decode gives envelope %s/%s/%d/%d, proto.Unmarshal %s/%s/%d/%d", got.GetNodeId(), got.GetAgentId(),
				got.GetEpoch(), got.GetSeq(), want.GetNodeId(), want.GetAgentId(), want.GetEpoch(), want.GetSeq())
		}
		// Unknown fields may differ in how their tags are encoded (UnmarshalVT keeps the bytes,
		// proto.Unmarshal encodes the tag again): compare what decoding them again gives.
		again := proto.Clone(got).(*sysflowv1.Record)
		if b, err := proto.Marshal(again); err != nil || proto.Unmarshal(b, again) != nil {
			t.Fatalf("decode gives %v, which does not encode and decode again", got)
		}
		if !proto.Equal(payloadMessage(again), payloadMessage(&want)) {
			t.Fatalf("decode gives %v, proto.Unmarshal %v", got, &want)
		}
	})
}

// payloadMessage returns the payload of any record.
func payloadMessage(r *sysflowv1.Record) proto.Message {
	m := r.ProtoReflect()
	od := m.Descriptor().Oneofs().ByName("rec")
	fd := m.WhichOneof(od)
	if fd == nil {
		return nil
	}
	return m.Get(fd).Message().Interface()
}
