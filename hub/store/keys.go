package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/hub/ring"
)

// LayoutVersion is the version of the on-disk layout this package reads and writes.
const LayoutVersion = 1

// Key prefixes; see the package documentation.
const (
	prefixVersion  = 0x00
	prefixAgent    = 'a'
	prefixAddress  = 'h'
	prefixChildren = 'c'
	prefixEntity   = 'e'
	prefixNode     = 'n'
	prefixRecord   = 'r'
	prefixUsed     = 'u'
)

// Entity kinds in entity keys.
const (
	kindProcess   = 'p'
	kindFile      = 'f'
	kindContainer = 'c'
	kindPod       = 'k'
)

var versionKey = []byte{prefixVersion, 'v'}

// recordKeyLen is the length of a record key: prefix, time, agent, epoch, seq.
const recordKeyLen = 1 + 8 + 4 + 8 + 8

// putTime encodes a time so that encodings sort as the times do, negative ones first.
func putTime(b []byte, ts int64) { binary.BigEndian.PutUint64(b, uint64(ts)^(1<<63)) }

func getTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

// recordKey appends the key of a record to dst.
func recordKey(dst []byte, ts int64, agent uint32, epoch, seq int64) []byte {
	dst = append(dst, prefixRecord)
	dst = binary.BigEndian.AppendUint64(dst, uint64(ts)^(1<<63))
	dst = binary.BigEndian.AppendUint32(dst, agent)
	dst = binary.BigEndian.AppendUint64(dst, uint64(epoch))
	return binary.BigEndian.AppendUint64(dst, uint64(seq))
}

// timeKey returns the first record key at or after time ts.
func timeKey(ts int64) []byte {
	b := make([]byte, 9)
	b[0] = prefixRecord
	putTime(b[1:], ts)
	return b
}

// recordKeyTime returns the time of a record key.
func recordKeyTime(k []byte) int64 { return getTime(k[1:9]) }

// procID appends a process's id in keys: host pid, then creation time, so that a pid's
// processes sort together and in creation order.
func procID(dst []byte, hpid, createTS int64) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(hpid)^(1<<63))
	return binary.BigEndian.AppendUint64(dst, uint64(createTS)^(1<<63))
}

func parseProcID(b []byte) (hpid, createTS int64) {
	return getTime(b[:8]), getTime(b[8:16])
}

// entityKey appends the key of an entity with prefix p (prefixEntity or prefixUsed), without the
// version's time that follows it in the entity table. The id's length comes first, so that no
// id's key is a prefix of another's.
func entityKey(dst []byte, p byte, node uint32, kind byte, id []byte) []byte {
	dst = append(dst, p)
	dst = binary.BigEndian.AppendUint32(dst, node)
	dst = append(dst, kind, byte(len(id)))
	return append(dst, id...)
}

// maxEntityID is the longest entity id the entity table keeps; SysFlow's are at most 64 bytes.
const maxEntityID = 255

// parseEntityKey splits an entity table key into its id's key (entityKey's output) and the
// version's time.
func parseEntityKey(k []byte) (idKey []byte, ts int64, ok bool) {
	if len(k) < 7 || len(k) != 7+int(k[6])+8 {
		return nil, 0, false
	}
	return k[:len(k)-8], getTime(k[len(k)-8:]), true
}

// recordValueHeader is the length of what precedes a record's encoding in its value: its type
// (1 byte), operation flags (4) and node number (4), so that a scan routes records without
// decoding them.
const recordValueHeader = 1 + 4 + 4

// appendRecordValue appends the value of a record to dst.
func appendRecordValue(dst []byte, e *ring.Entry, node uint32) []byte {
	dst = append(dst, byte(e.Type))
	dst = binary.BigEndian.AppendUint32(dst, uint32(e.OpFlags))
	dst = binary.BigEndian.AppendUint32(dst, node)
	return append(dst, e.Raw...)
}

// agentState is what the store keeps of an agent.
type agentState struct {
	idx, node   uint32
	epoch, seq  int64
	lastTime    int64 // the time of the last record with a time of its own
	hasLastTime bool
}

const agentValueLen = 4 + 4 + 8 + 8 + 8 + 1

func (a *agentState) encode() []byte {
	b := make([]byte, 0, agentValueLen)
	b = binary.BigEndian.AppendUint32(b, a.idx)
	b = binary.BigEndian.AppendUint32(b, a.node)
	b = binary.BigEndian.AppendUint64(b, uint64(a.epoch))
	b = binary.BigEndian.AppendUint64(b, uint64(a.seq))
	b = binary.BigEndian.AppendUint64(b, uint64(a.lastTime))
	if a.hasLastTime {
		return append(b, 1)
	}
	return append(b, 0)
}

func decodeAgent(b []byte) (*agentState, error) {
	if len(b) != agentValueLen {
		return nil, fmt.Errorf("agent value of %d bytes, want %d", len(b), agentValueLen)
	}
	return &agentState{
		idx:         binary.BigEndian.Uint32(b),
		node:        binary.BigEndian.Uint32(b[4:]),
		epoch:       int64(binary.BigEndian.Uint64(b[8:])),
		seq:         int64(binary.BigEndian.Uint64(b[16:])),
		lastTime:    int64(binary.BigEndian.Uint64(b[24:])),
		hasLastTime: b[32] == 1,
	}, nil
}

// Field numbers of the payloads refs reads: every event and flow has its process's object id
// in field 1 and its time in field 2.
const (
	fieldEventProcOID   = 1
	fieldEventTime      = 2
	fieldFileFlowFile   = 7
	fieldFileEventFile  = 5
	fieldFileEventNew   = 7
	fieldOIDCreateTS    = 1
	fieldOIDHpid        = 2
	fieldPodTime        = 1
	fieldK8sEventTime   = 3
	fieldProcessTime    = 4
	fieldFileTime       = 3
	recordFieldBase     = 10
	maxRecordFieldValue = recordFieldBase + int(sysflowv1.RecordType_RECORD_TYPE_K8S_EVENT)
)

// refs is what the store reads of an event or flow without decoding it: its time and the
// entities it references.
type refs struct {
	typ            sysflowv1.RecordType
	ts             int64
	hasTime        bool
	payload        []byte
	hpid, createTS int64
	hasProc        bool
	files          [2][]byte // file and new file object ids, nil when absent
}

var errNoPayload = errors.New("record has no payload")

// readRefs reads a record's type, time and references. An entity's references are not read
// (its payload is returned for decoding).
func readRefs(raw []byte, r *refs) error {
	*r = refs{}
	b := raw
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("record: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if num > recordFieldBase && int(num) <= maxRecordFieldValue && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("record payload: %w", protowire.ParseError(n))
			}
			r.typ, r.payload = sysflowv1.RecordType(num-recordFieldBase), v
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return fmt.Errorf("record field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	if r.typ == sysflowv1.RecordType_RECORD_TYPE_UNSPECIFIED {
		return errNoPayload
	}
	timeField := protowire.Number(fieldEventTime)
	event := true
	switch r.typ {
	case sysflowv1.RecordType_RECORD_TYPE_HEADER, sysflowv1.RecordType_RECORD_TYPE_CONTAINER:
		return nil
	case sysflowv1.RecordType_RECORD_TYPE_PROCESS:
		timeField, event = fieldProcessTime, false
	case sysflowv1.RecordType_RECORD_TYPE_FILE:
		timeField, event = fieldFileTime, false
	case sysflowv1.RecordType_RECORD_TYPE_POD:
		timeField, event = fieldPodTime, false
	case sysflowv1.RecordType_RECORD_TYPE_K8S_EVENT:
		timeField, event = fieldK8sEventTime, false
	}
	r.hasTime = true // proto3: an absent time is 0
	p := r.payload
	for len(p) > 0 {
		num, typ, n := protowire.ConsumeTag(p)
		if n < 0 {
			return fmt.Errorf("record payload %v: %w", r.typ, protowire.ParseError(n))
		}
		p = p[n:]
		switch {
		case num == timeField && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(p)
			if n < 0 {
				return fmt.Errorf("record payload %v: %w", r.typ, protowire.ParseError(n))
			}
			r.ts = int64(v)
			p = p[n:]
			continue
		case event && num == fieldEventProcOID && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(p)
			if n < 0 {
				return fmt.Errorf("record payload %v: %w", r.typ, protowire.ParseError(n))
			}
			if err := readOID(v, r); err != nil {
				return fmt.Errorf("record payload %v: %w", r.typ, err)
			}
			p = p[n:]
			continue
		case event && typ == protowire.BytesType && (r.typ == sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW && num == fieldFileFlowFile ||
			r.typ == sysflowv1.RecordType_RECORD_TYPE_FILE_EVENT && (num == fieldFileEventFile || num == fieldFileEventNew)):
			v, n := protowire.ConsumeBytes(p)
			if n < 0 {
				return fmt.Errorf("record payload %v: %w", r.typ, protowire.ParseError(n))
			}
			i := 0
			if r.typ == sysflowv1.RecordType_RECORD_TYPE_FILE_EVENT && num == fieldFileEventNew {
				i = 1
			}
			r.files[i] = v
			p = p[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, p)
		if n < 0 {
			return fmt.Errorf("record payload %v: %w", r.typ, protowire.ParseError(n))
		}
		p = p[n:]
	}
	return nil
}

// readOID reads an OID message into r's process reference; fields merge as protobuf merges
// repeated occurrences of a message field.
func readOID(b []byte, r *refs) error {
	r.hasProc = true
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if (num == fieldOIDCreateTS || num == fieldOIDHpid) && typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			if num == fieldOIDCreateTS {
				r.createTS = int64(v)
			} else {
				r.hpid = int64(v)
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
	}
	return nil
}

// isEntity reports whether records of type t are entities the store keeps in its entity table.
func isEntity(t sysflowv1.RecordType) bool {
	switch t {
	case sysflowv1.RecordType_RECORD_TYPE_PROCESS, sysflowv1.RecordType_RECORD_TYPE_FILE,
		sysflowv1.RecordType_RECORD_TYPE_CONTAINER, sysflowv1.RecordType_RECORD_TYPE_POD:
		return true
	}
	return false
}
