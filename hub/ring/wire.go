package ring

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// Field numbers of sysflow.v1.Record and of the payload fields Scan reads.
const (
	fieldNodeID  = 1
	fieldAgentID = 2
	fieldEpoch   = 3
	fieldSeq     = 4
	// The oneof member for RecordType t has field number recordFieldBase + t.
	recordFieldBase = 10
	// op_flags is field 4 in every record type that has it.
	fieldOpFlags = 4
)

// Meta is what the hub needs to know of a record to route it.
type Meta struct {
	// NodeID and AgentID say where the record comes from. They alias the scanned bytes.
	NodeID, AgentID []byte
	// Epoch and Seq are the record's delivery position.
	Epoch, Seq int64
	// Type is the record's type.
	Type sysflowv1.RecordType
	// OpFlags are the record's operation flags; HasOpFlags says whether its type has them.
	OpFlags    int32
	HasOpFlags bool
}

// HasOpFlags reports whether records of type t carry op_flags.
func HasOpFlags(t sysflowv1.RecordType) bool { return hasOpFlags(t) }

// hasOpFlags reports whether records of type t carry op_flags.
func hasOpFlags(t sysflowv1.RecordType) bool {
	switch t {
	case sysflowv1.RecordType_RECORD_TYPE_PROCESS_EVENT,
		sysflowv1.RecordType_RECORD_TYPE_NETWORK_FLOW,
		sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW,
		sysflowv1.RecordType_RECORD_TYPE_FILE_EVENT,
		sysflowv1.RecordType_RECORD_TYPE_NETWORK_EVENT,
		sysflowv1.RecordType_RECORD_TYPE_PROCESS_FLOW:
		return true
	}
	return false
}

var errNoPayload = errors.New("record has no payload")

// Scan reads a protobuf-encoded sysflow.v1.Record's envelope, type and op_flags without
// decoding the rest. m.NodeID and m.AgentID alias b.
func Scan(b []byte) (Meta, error) {
	var m Meta
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return m, fmt.Errorf("record: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case (num == fieldNodeID || num == fieldAgentID) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return m, fmt.Errorf("record field %d: %w", num, protowire.ParseError(n))
			}
			if num == fieldNodeID {
				m.NodeID = v
			} else {
				m.AgentID = v
			}
			b = b[n:]
		case (num == fieldEpoch || num == fieldSeq) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return m, fmt.Errorf("record field %d: %w", num, protowire.ParseError(n))
			}
			if num == fieldEpoch {
				m.Epoch = int64(v)
			} else {
				m.Seq = int64(v)
			}
			b = b[n:]
		case num > recordFieldBase && num <= recordFieldBase+protowire.Number(sysflowv1.RecordType_RECORD_TYPE_K8S_EVENT) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return m, fmt.Errorf("record payload: %w", protowire.ParseError(n))
			}
			// As in proto.Unmarshal, another oneof member replaces the payload and the same
			// member again merges into it.
			if t := sysflowv1.RecordType(num - recordFieldBase); t != m.Type {
				m.Type, m.OpFlags = t, 0
			}
			if m.HasOpFlags = hasOpFlags(m.Type); m.HasOpFlags {
				f, err := scanOpFlags(v, m.OpFlags)
				if err != nil {
					return m, fmt.Errorf("record payload %v: %w", m.Type, err)
				}
				m.OpFlags = f
			}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return m, fmt.Errorf("record field %d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	if m.Type == sysflowv1.RecordType_RECORD_TYPE_UNSPECIFIED {
		return m, errNoPayload
	}
	return m, nil
}

// scanOpFlags finds op_flags in an encoded event or flow; flags is the value when it has none.
func scanOpFlags(b []byte, flags int32) (int32, error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		b = b[n:]
		if num == fieldOpFlags && typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, protowire.ParseError(n)
			}
			flags = int32(v)
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		b = b[n:]
	}
	return flags, nil
}
