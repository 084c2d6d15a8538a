package service

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/hub/ring"
)

// envelope is where a record comes from, as the ring and the store know it without decoding it.
type envelope struct {
	node, agent string
	epoch, seq  int64
}

// recordDecoder decodes records into one reused message, and each payload into a reused message
// of its type: a filter decodes every record it checks, and allocating each anew costs as much
// as decoding it. What it returns is valid until the next call.
type recordDecoder struct {
	rec sysflowv1.Record
	// payloads holds, for each type, a payload message and a record holding it.
	payloads [sysflowv1.RecordType_RECORD_TYPE_K8S_EVENT + 1]struct {
		msg ring.Message
		rec *sysflowv1.Record
	}
}

// decode decodes a record of type t, encoded as raw, with its envelope.
func (d *recordDecoder) decode(t sysflowv1.RecordType, raw []byte, env envelope) (*sysflowv1.Record, error) {
	payload, ok := payloadOf(raw, t)
	if !ok || t <= 0 || int(t) >= len(d.payloads) {
		// Not the one payload field the type says: decode it all, as protobuf would.
		d.rec.Reset()
		if err := ring.Decode(raw, &d.rec); err != nil {
			return nil, err
		}
		return &d.rec, nil
	}
	p := &d.payloads[t]
	if p.msg == nil {
		p.msg, p.rec = newPayload(t)
	}
	proto.Reset(p.msg)
	if err := ring.Decode(payload, p.msg); err != nil {
		return nil, err
	}
	p.rec.NodeId, p.rec.AgentId, p.rec.Epoch, p.rec.Seq = env.node, env.agent, env.epoch, env.seq
	return p.rec, nil
}

// payloadOf returns the payload of a record of type t: the bytes of field 10+t, when it occurs
// once and no other payload field does.
func payloadOf(raw []byte, t sysflowv1.RecordType) ([]byte, bool) {
	var payload []byte
	found := false
	for len(raw) > 0 {
		num, typ, n := protowire.ConsumeTag(raw)
		if n < 0 {
			return nil, false
		}
		raw = raw[n:]
		if num > 10 && num <= 10+protowire.Number(sysflowv1.RecordType_RECORD_TYPE_K8S_EVENT) {
			if found || num != 10+protowire.Number(t) || typ != protowire.BytesType {
				return nil, false
			}
			v, n := protowire.ConsumeBytes(raw)
			if n < 0 {
				return nil, false
			}
			payload, found = v, true
			raw = raw[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, raw)
		if n < 0 {
			return nil, false
		}
		raw = raw[n:]
	}
	return payload, found
}

// newPayload returns a payload message of type t and a record holding it.
func newPayload(t sysflowv1.RecordType) (ring.Message, *sysflowv1.Record) {
	switch t {
	case sysflowv1.RecordType_RECORD_TYPE_HEADER:
		m := new(sysflowv1.SFHeader)
		return m, &sysflowv1.Record{Rec: &sysflowv1.Record_Header{Header: m}}
	case sysflowv1.RecordType_RECORD_TYPE_CONTAINER:
		m := new(sysflowv1.Container)
		return m, &sysflowv1.Record{Rec: &sysflowv1.Record_Container{Container: m}}
	case sysflowv1.RecordType_RECORD_TYPE_PROCESS:
		m := new(sysflowv1.Process)
		return m, &sysflowv1.Record{Rec: &sysflowv1.Record_Process{Process: m}}
	case sysflowv1.RecordType_RECORD_TYPE_FILE:
		m := new(sysflowv1.File)
		return m, &sysflowv1.Record{Rec: &sysflowv1.Record_File{File: m}}
	case sysflowv1.RecordType_RECORD_TYPE_PROCESS_EVENT:
		m := new(sysflowv1.ProcessEvent)
		return m, &sysflowv1.Record{Rec: &sysflowv1.Record_ProcessEvent{ProcessEvent: m}}
	case sysflowv1.RecordType_RECORD_TYPE_NETWORK_FLOW:
		m := new(sysflowv1.NetworkFlow)
		return m, &sysflowv1.Record{Rec: &sysflowv1.Record_NetworkFlow{NetworkFlow: m}}
	case sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW:
		m := new(sysflowv1.FileFlow)
		return m, &sysflowv1.Record{Rec: &sysflowv1.Record_FileFlow{FileFlow: m}}
	case sysflowv1.RecordType_RECORD_TYPE_FILE_EVENT:
		m := new(sysflowv1.FileEvent)
		return m, &sysflowv1.Record{Rec: &sysflowv1.Record_FileEvent{FileEvent: m}}
	case sysflowv1.RecordType_RECORD_TYPE_NETWORK_EVENT:
		m := new(sysflowv1.NetworkEvent)
		return m, &sysflowv1.Record{Rec: &sysflowv1.Record_NetworkEvent{NetworkEvent: m}}
	case sysflowv1.RecordType_RECORD_TYPE_PROCESS_FLOW:
		m := new(sysflowv1.ProcessFlow)
		return m, &sysflowv1.Record{Rec: &sysflowv1.Record_ProcessFlow{ProcessFlow: m}}
	case sysflowv1.RecordType_RECORD_TYPE_POD:
		m := new(sysflowv1.Pod)
		return m, &sysflowv1.Record{Rec: &sysflowv1.Record_Pod{Pod: m}}
	default:
		m := new(sysflowv1.K8SEvent)
		return m, &sysflowv1.Record{Rec: &sysflowv1.Record_K8SEvent{K8SEvent: m}}
	}
}
